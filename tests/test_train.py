"""The trainer: it learns, resumes exactly, survives damaged checkpoints, picks its precision."""

import re

import matplotlib
import pytest
import torch

from resnet_helpers import ResNetConfig, build_resnet, choose_precision
from resnet_helpers.lessons.training import confusion_matrix, plot_confusion_matrix, show_mistakes
from resnet_helpers.profiles import Precision
from resnet_helpers.training.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from resnet_helpers.training.cli import main
from resnet_helpers.training.course import subset_loader
from resnet_helpers.training.device_data import (
    DeviceData,
    augment,
    autocast,
    make_grad_scaler,
    to_input,
    tune_cpu_allocator,
)
from resnet_helpers.training.live_plot import plot_history
from resnet_helpers.training.recipes import RECIPES, RunSettings, run_settings
from resnet_helpers.training.trainer import Trainer, train_resnet

matplotlib.use("Agg")

# A small ResNet (two stages, 8 and 16 channels) keeps every test to seconds on a CPU.
TINY = ResNetConfig(blocks=(1, 1), channels=(8, 16), stem_channels=8)
SIZES = RunSettings(epochs=2, batch_size=64, resolution=28, train_size=512, test_size=256)


@pytest.fixture(scope="module")
def data():
    return DeviceData("cpu", train_size=SIZES.train_size, test_size=SIZES.test_size)


def quiet(**kwargs):
    return {"progress": False, "live_plot": False, "log": None, **kwargs}


def test_trainer_learns_on_a_tiny_slice(data):
    result = train_resnet(TINY, "course", SIZES.replace(epochs=4), data=data, **quiet())
    loss = result.history["train_loss"]
    assert loss[-1] < 0.8 * loss[0], loss
    assert result.test_acc > 0.3  # chance is 0.1
    assert len(result.history["test_acc"]) == 4 and len(loss) == 20  # 5 points per epoch, like d2l
    assert result.images_seen == 4 * 512 and result.images_per_s > 0
    row = result.row()
    assert row["precision"] == choose_precision("cpu").name and row["epochs"] == 4


def test_course_recipe_is_the_books(data):
    course = RECIPES["course"]
    assert (course.lr, course.momentum, course.weight_decay, course.schedule, course.init) == (
        0.05,
        0.0,
        0.0,
        "constant",
        "xavier",
    )
    assert not (course.flip or course.translate or course.label_smoothing)
    trainer = Trainer(build_resnet(TINY), data, "course", SIZES, **quiet())
    assert type(trainer.optimizer) is torch.optim.SGD and trainer.scheduler is None
    assert trainer.optimizer.param_groups[0]["lr"] == 0.05


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_reproduces_the_uninterrupted_run(data, tmp_path, monkeypatch):
    settings = SIZES.replace(epochs=3)
    straight = train_resnet(TINY, "improved", settings, data=data, checkpoint=tmp_path / "a.pt", **quiet())

    # Interrupt the second run in the middle of its second epoch (a disconnect).
    steps = {"n": 0}
    original_step = Trainer.train_step

    def flaky_step(self, X, y):
        steps["n"] += 1
        if steps["n"] == data.num_batches(settings.batch_size) + 3:
            raise KeyboardInterrupt
        return original_step(self, X, y)

    monkeypatch.setattr(Trainer, "train_step", flaky_step)
    with pytest.raises(KeyboardInterrupt):
        train_resnet(TINY, "improved", settings, data=data, checkpoint=tmp_path / "b.pt", **quiet())
    monkeypatch.setattr(Trainer, "train_step", original_step)
    assert load_checkpoint(tmp_path / "b.pt")["epoch"] == 1

    torch.manual_seed(1234)  # the global RNG state must not matter: the checkpoint restores it
    resumed = train_resnet(
        TINY, "improved", settings, data=data, checkpoint=tmp_path / "b.pt", resume=True, **quiet()
    )
    assert resumed.resumed_from == 1
    assert _same_state(straight.net.state_dict(), resumed.net.state_dict())
    assert straight.history["test_acc"] == resumed.history["test_acc"]
    assert straight.history["train_loss"] == resumed.history["train_loss"]


def test_resume_loads_the_checkpoint_to_the_cpu(data, tmp_path, monkeypatch):
    """On a GPU the trainer once loaded checkpoints with map_location=cuda, which moved the saved
    CPU RNG state there, and torch.set_rng_state refused it ("RNG state must be a
    torch.ByteTensor": notebook 04 on an H200). The state must be loaded to the CPU whatever
    the device; load_state_dict copies weights and optimiser state to the device."""
    import resnet_helpers.training.trainer as train_module

    path = tmp_path / "d.pt"
    train_resnet(TINY, "course", SIZES.replace(epochs=1), data=data, checkpoint=path, **quiet())
    seen = []
    original = train_module.load_checkpoint

    def spy(p, map_location="cpu"):
        seen.append(map_location)
        return original(p, map_location=map_location)

    monkeypatch.setattr(train_module, "load_checkpoint", spy)
    train_resnet(TINY, "course", SIZES.replace(epochs=1), data=data, checkpoint=path, resume=True, **quiet())
    # "cpu" itself, not the trainer's device (which is the CPU here too, so compare the value).
    assert len(seen) == 1 and isinstance(seen[0], str) and seen[0] == "cpu", seen


def test_resume_without_a_checkpoint_starts_fresh(data, tmp_path):
    lines = []
    settings = SIZES.replace(epochs=1)
    train_resnet(TINY, "course", settings, data=data, checkpoint=tmp_path / "c.pt", resume=True,
                 **quiet(log=lines.append))  # fmt: skip
    assert "starting from epoch 1" in lines[0]
    assert load_checkpoint(tmp_path / "c.pt")["epoch"] == 1


def test_checkpoint_has_everything_and_loads_weights_only(data, tmp_path):
    path = tmp_path / "ck.pt"
    train_resnet(TINY, "improved", SIZES.replace(epochs=1), data=data, checkpoint=path, **quiet())
    state = torch.load(path, weights_only=True)
    for key in ("model", "optimizer", "scheduler", "scaler", "rng", "history", "config", "epoch"):
        assert key in state
    assert state["config"]["recipe"]["name"] == "improved" and state["config"]["settings"]["epochs"] == 1
    assert isinstance(state["rng"]["torch"], torch.Tensor)


def test_resume_with_other_settings_is_refused(data, tmp_path):
    path = tmp_path / "ck.pt"
    train_resnet(TINY, "course", SIZES.replace(epochs=1), data=data, checkpoint=path, **quiet())
    with pytest.raises(CheckpointError, match="recipe"):
        train_resnet(
            TINY, "improved", SIZES.replace(epochs=1), data=data, checkpoint=path, resume=True, **quiet()
        )


def test_truncated_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"format": 1, "model": {"w": torch.arange(10_000.0)}})
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(CheckpointError, match=r"corrupt or truncated.*Delete the file"):
        load_checkpoint(path)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        load_checkpoint(path)


def test_interrupted_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"format": 1, "epoch": 1, "model": {"w": torch.ones(3)}})

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"format": 1, "epoch": 2, "model": {"w": torch.zeros(3)}})
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and torch.equal(state["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left behind


@pytest.mark.parametrize(
    "name,dtype,scaler",
    [("bf16", torch.bfloat16, False), ("fp16", torch.float16, True), ("fp32", None, False)],
)
def test_precision_sets_autocast_and_scaler(name, dtype, scaler):
    precision = Precision(name, dtype, scaler, "test")
    cpu = torch.device("cpu")
    with autocast(cpu, precision):
        assert torch.is_autocast_enabled("cpu") == (dtype is not None)
        if dtype is not None:
            assert torch.get_autocast_dtype("cpu") == dtype
    assert make_grad_scaler(cpu, precision).is_enabled() == scaler


def test_trainer_uses_the_chosen_precision_and_bf16_steps_run(data):
    trainer = Trainer(build_resnet(TINY), data, "course", SIZES, **quiet())
    assert trainer.precision == choose_precision("cpu")
    bf16 = choose_precision("cpu", cpu_bf16=True)
    trainer = Trainer(build_resnet(TINY), data, "course", SIZES, precision=bf16, **quiet())
    X, y = next(data.train_batches(8, 28))
    trainer.train_step(X, y)
    assert trainer._sums[2].item() == 8 and torch.isfinite(trainer._sums[0])


def test_batches_are_made_on_the_device_and_reproducible(data):
    X, y = next(data.train_batches(32, 96, epoch=0, seed=0))
    assert X.shape == (32, 1, 96, 96) and X.dtype == torch.float32 and y.shape == (32,)
    assert X.is_contiguous(memory_format=torch.channels_last)
    assert 0.0 <= X.min().item() and X.max().item() <= 1.0
    X2, y2 = next(data.train_batches(32, 96, epoch=0, seed=0))
    assert torch.equal(X, X2) and torch.equal(y, y2)
    _, y3 = next(data.train_batches(32, 96, epoch=1, seed=0))
    assert not torch.equal(y, y3)
    sizes = [len(y) for _, y in data.train_batches(200, 28)]
    assert sizes == [200, 200, 112]  # the last, partial batch is kept, as d2l's DataLoader does


def test_to_input_matches_torchvision_resize():
    from torchvision.transforms import functional as TF

    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    ours = to_input(images, 96)
    theirs = TF.resize(images.unsqueeze(1).float() / 255, [96, 96], antialias=True)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_augment_flips_and_shifts():
    g = torch.Generator().manual_seed(0)
    images = torch.zeros(64, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 2:6] = 255  # a bar near the left edge
    out = augment(images, g, flip=True, translate=2)
    assert out.shape == images.shape and out.dtype == torch.uint8
    assert (out.sum(dim=(1, 2)) == images.sum(dim=(1, 2))).all()  # shifts by <= 2 px lose nothing here
    on_right = out[:, :, 14:].sum(dim=(1, 2)) > 0
    assert 10 < on_right.sum().item() < 54  # about half flipped
    assert not torch.equal(out, augment(images, g, flip=False, translate=2))


def test_run_settings_by_profile():
    assert run_settings("full") == RunSettings(epochs=10, batch_size=256, resolution=96)
    assert run_settings("cpu").resolution <= 96 and run_settings("cpu").batch_size == 256
    smoke = run_settings("smoke")
    assert smoke.train_size <= 1024 and smoke.epochs >= 1
    assert smoke.replace(epochs=5, resolution=None).epochs == 5


def test_subset_loader_keeps_the_loader_settings():
    dataset = torch.utils.data.TensorDataset(torch.arange(100))
    loader = torch.utils.data.DataLoader(dataset, 16, shuffle=True, num_workers=0)
    small = subset_loader(loader, 40)
    assert len(small.dataset) == 40 and small.batch_size == 16
    assert isinstance(small.sampler, torch.utils.data.RandomSampler)
    assert subset_loader(loader, None) is loader


def test_tune_cpu_allocator_is_idempotent():
    first = tune_cpu_allocator()
    assert first == tune_cpu_allocator() and isinstance(first, str)


def test_figures():
    history = {
        "epoch": [0.5, 1.0, 1.5, 2.0],
        "train_loss": [2.0, 1.0, 0.8, 0.6],
        "train_acc": [0.3, 0.6, 0.7, 0.8],
        "test_epoch": [1, 2],
        "test_acc": [0.6, 0.75],
    }
    fig = plot_history(history, epochs=2)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "train loss",
        "train acc",
        "test acc",
    ]
    pred, true = torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2])
    counts = confusion_matrix(pred, true, 3)
    assert counts.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert plot_confusion_matrix(pred, true, ["a", "b", "c"]) is not None
    images = torch.zeros(4, 28, 28)
    assert show_mistakes(images, pred, true, ["a", "b", "c"], rows=1, cols=2) is not None
    assert show_mistakes(images, true, true, ["a", "b", "c"]) is None


def test_command_line(tmp_path, capsys):
    path = tmp_path / "cli.pt"
    args = ["--recipe", "course", "--profile", "smoke", "--epochs", "1", "--train-size", "128"]
    assert main([*args, "--checkpoint", str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[1].startswith("epoch 1/1: loss")
    assert re.fullmatch(r"test acc 0\.\d{3}", out[-1])
    assert main([*args, "--checkpoint", str(path), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and re.search(r"test acc 0\.\d{3}\n$", out)
    path.write_bytes(b"garbage")
    assert main([*args, "--checkpoint", str(path), "--resume"]) == 1
    assert "corrupt or truncated" in capsys.readouterr().err
