"""The command line: bad arguments stop with one error line (exit 2); Ctrl-C and SIGTERM stop a run
with the checkpoint and the command that resumes it; the resumed run ends where an uninterrupted
one does; kill -9 never damages the last checkpoint."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from resnet_helpers.training.cli import main
from resnet_helpers.training.trainer import load_checkpoint, save_checkpoint

PROG = "python -m resnet_helpers.training: error: "
BN = "must be 2 or more (BatchNorm needs 2 images per batch), got 1."
# One smoke-sized run: ResNet-18 on 128 images at 28x28, two batches an epoch, 64 test images.
SMALL = ["--profile", "smoke", "--train-size", "128", "--test-size", "64", "--resolution", "28"]
SMALL += ["--default-allocator"]  # in-process runs leave the test process's allocator alone


def error_of(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--epochs", "0"], "argument --epochs: epochs must be a positive integer, got 0."),
        (["--epochs", "-1"], "argument --epochs: epochs must be a positive integer, got -1."),
        (["--epochs", "ten"], "argument --epochs: 'ten' is not a whole number"),
        (
            ["--resolution", "0"],
            "argument --resolution: 0 is too small; the presets need 17 pixels or more (the course uses 96)",
        ),
        (
            ["--resolution", "7"],
            "argument --resolution: 7 is too small; the presets need 17 pixels or more (the course uses 96)",
        ),
        (["--batch-size", "0"], "argument --batch-size: batch_size must be a positive integer, got 0."),
        (
            ["--batch-size", "1"],
            f"argument --batch-size: batch_size {BN}",
        ),
        (
            ["--model", "resnet19"],
            "argument --model: invalid choice: 'resnet19' (choose from 'resnet18', 'resnet34', 'resnet50', "
            "'resnet101', 'resnet152')",
        ),
        (
            ["--train-size", "1"],
            f"argument --train-size: train_size {BN}",
        ),
        (["--test-size", "0"], "argument --test-size: test_size must be a positive integer, got 0."),
        (["--resume"], "argument --resume: needs --checkpoint PATH, the file to continue from"),
    ],
)
def test_bad_arguments_give_one_error_line(argv, message, capsys):
    assert error_of(argv, capsys) == PROG + message


def test_checkpoint_folders(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert error_of(["--checkpoint", str(blocker / "runs" / "ck.pt")], capsys) == (
        f"{PROG}argument --checkpoint: cannot create the folder {blocker / 'runs'} ({blocker} is a file); "
        "choose a folder you can write to"
    )
    assert error_of(["--checkpoint", str(tmp_path)], capsys) == (
        f"{PROG}argument --checkpoint: {tmp_path} is a folder; give a file in it, e.g. {tmp_path / 'run.pt'}"
    )

    import resnet_helpers.training.cli as cli

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "TemporaryFile", read_only)  # root may write anywhere
    assert error_of(["--checkpoint", str(tmp_path / "ck.pt")], capsys) == (
        f"{PROG}argument --checkpoint: cannot write in the folder {tmp_path} (Permission denied); "
        "choose a folder you can write to"
    )


def test_a_missing_checkpoint_folder_is_created_and_said(tmp_path, capsys):
    path = tmp_path / "new" / "deeper" / "ck.pt"
    assert main([*SMALL, "--checkpoint", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"created the folder {path.parent} for the checkpoint\n" in out
    assert load_checkpoint(path)["epoch"] == 1


def test_command_line_trains_resumes_and_refuses_other_checkpoints(tmp_path, capsys):
    path = tmp_path / "cli.pt"
    assert main([*SMALL, "--checkpoint", str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("epoch 1/1: loss") for line in out)
    assert re.fullmatch(r"test acc 0\.\d{3}", out[-1])
    assert main([*SMALL, "--checkpoint", str(path), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and re.search(r"test acc 0\.\d{3}\n$", out)

    # A checkpoint of another model or recipe: today's message, now as an argument error.
    message = error_of([*SMALL, "--checkpoint", str(path), "--resume", "--recipe", "improved"], capsys)
    assert message.startswith(f"{PROG}argument --checkpoint: the checkpoint {path} was written by a run")
    assert "recipe.name 'course' -> 'improved'" in message
    message = error_of([*SMALL, "--checkpoint", str(path), "--resume", "--model", "resnet34"], capsys)
    assert "model.blocks [2, 2, 2, 2] -> [3, 4, 6, 3]" in message

    # Files that are not checkpoints.
    path.write_bytes(b"garbage")
    message = error_of([*SMALL, "--checkpoint", str(path), "--resume"], capsys)
    assert message.startswith(f"{PROG}argument --checkpoint: checkpoint {path} is corrupt or truncated")
    torch.save({"weights": torch.ones(2)}, path)
    assert error_of([*SMALL, "--checkpoint", str(path), "--resume"], capsys) == (
        f"{PROG}argument --checkpoint: {path} is not a checkpoint of resnet_helpers.training (format 1)."
    )


# --------------------------------------------------------------------------- real processes


def start(args, **kwargs) -> subprocess.Popen:
    """The command line in a child process, with SIGINT's default handling (a child of a
    background job inherits SIGINT ignored) and one thread (same arithmetic in every run)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kwargs,
    )


def command(*args) -> list[str]:
    return [sys.executable, "-m", "resnet_helpers.training", *SMALL, *args]


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_a_bad_argument_in_a_real_process_prints_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "resnet_helpers.training", "--epochs", "0"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"{PROG}argument --epochs: epochs must be a positive integer, got 0."
    )


EPOCHS = "8"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("straight") / "a.pt"
    process = start(command("--epochs", EPOCHS, "--checkpoint", str(path)))
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err
    return load_checkpoint(path)


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_says_how_to_resume_and_resumes_exactly(sig, code, uninterrupted, tmp_path):
    path = tmp_path / "b.pt"
    process = start(command("--epochs", EPOCHS, "--checkpoint", str(path)))
    wait_for(path, process)
    sent = time.monotonic()
    process.send_signal(sig)
    out, err = process.communicate(timeout=120)
    stopped_in = time.monotonic() - sent
    print(f"{sig.name}: stopped {stopped_in:.2f} s after the signal")
    assert process.returncode == code, (out, err)
    assert "Traceback" not in err
    assert stopped_in < 30  # a step or two; the machine running the tests may be busy
    lines = err.strip().splitlines()
    saved = load_checkpoint(path)["epoch"]
    assert 1 <= saved < int(EPOCHS)
    how = "SIGTERM" if sig == signal.SIGTERM else "Ctrl-C / interrupt"
    said = re.fullmatch(
        rf"interrupted \({how}\) during epoch (\d+) of {EPOCHS}\. "
        rf"Last complete checkpoint: {re.escape(str(path))} \(after epoch (\d+)\)\.",
        lines[-2],
    )
    assert said, lines
    during, after = int(said[1]), int(said[2])
    # The file holds that epoch (or the next, when the signal came between its write and the message).
    assert during == after + 1 and saved in (after, after + 1)
    assert lines[-1].startswith("resume with: ")
    resume = shlex.split(lines[-1].removeprefix("resume with: "))
    assert resume[-1] == "--resume" and resume[resume.index("--profile") + 1] == "smoke"

    resumed = start(resume)
    out, err = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, err
    assert f"resumed from {path} after epoch {saved} of {EPOCHS}" in out
    final = load_checkpoint(path)
    assert final["epoch"] == int(EPOCHS)
    assert final["model"].keys() == uninterrupted["model"].keys()
    for key, value in uninterrupted["model"].items():
        assert torch.equal(final["model"][key], value), key
    assert final["history"]["test_acc"] == uninterrupted["history"]["test_acc"]


@pytest.mark.slow
def test_kill_9_between_epochs_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "k.pt"
    process = start(command("--epochs", "20", "--checkpoint", str(path)))
    wait_for(path, process)
    time.sleep(0.5)
    process.kill()
    process.communicate()
    state = load_checkpoint(path)
    assert state["epoch"] >= 1 and len(state["history"]["test_acc"]) == state["epoch"]


WRITER = """
import sys, torch
from resnet_helpers.training.trainer import save_checkpoint
epoch = 0
while True:
    epoch += 1
    weights = {"w": torch.full((8_000_000,), float(epoch))}
    save_checkpoint(sys.argv[1], {"format": 1, "epoch": epoch, "model": weights})
"""


def test_kill_9_during_a_checkpoint_write_leaves_the_previous_one(tmp_path):
    """Checkpoints of 32 MB written in a loop; kill -9 while the temporary file of the next one
    is being written: the last complete checkpoint still loads, whole."""
    path = tmp_path / "big.pt"
    process = start([sys.executable, "-c", WRITER, str(path)])
    wait_for(path, process, timeout=120)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".big.pt.*.tmp")):
        assert time.monotonic() < deadline and process.poll() is None
    process.kill()
    process.communicate()
    state = load_checkpoint(path)
    epoch = state["epoch"]
    assert epoch >= 1 and torch.equal(state["model"]["w"], torch.full((8_000_000,), float(epoch)))
    # The temporary file of the killed write stays behind (nothing can remove it on kill -9)
    # and does not disturb the next run's writes.
    save_checkpoint(path, {"format": 1, "epoch": epoch + 1, "model": {}})
    assert load_checkpoint(path)["epoch"] == epoch + 1


def test_a_bad_profile_in_the_environment_is_one_error_line(monkeypatch, capsys):
    monkeypatch.setenv("RESNET_PROFILE", "bogus")
    assert error_of(["--epochs", "1"], capsys) == (
        PROG + "RESNET_PROFILE='bogus' is not a run profile; choose one of smoke, cpu, full "
        "(or pass --profile)"
    )
