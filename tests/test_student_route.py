"""The student's route without make (README.md "Start here"), the same on Windows, macOS and Linux:
the commands of the README's marked block, run exactly as written in a fresh venv, then the package
imported from it. Both READMEs lead with it; it contains nothing a shell other than bash would refuse.

The slow test makes a venv with Python 3.11 (pip takes torch from this machine's disk there) and runs
each command with the venv's scripts first on PATH, which is all that activating it does. It changes
no command: pip's options and JupyterLab's settings come through environment variables (JupyterLab's
config folder allows root and opens no browser; the data root is a temporary folder, so the data step
goes through its offline sources, Debian's package here, as on a fresh checkout).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_lab import _free_port, _wait_for_lab

ROOT = Path(__file__).resolve().parents[1]
MARK = "<!-- student-route"
TEST_TOOLS = ("pytest", "nbval", "ruff", "playwright", "importlinter")  # pyyaml: JupyterLab needs it too


def route_commands(readme: Path = ROOT / "README.md") -> list[str]:
    """The commands of the code block that follows the README's `<!-- student-route` comment."""
    text = readme.read_text(encoding="utf-8")
    if MARK not in text:
        raise AssertionError(f"{readme.name} has no `{MARK} ... -->` comment before the route's commands")
    block = re.search(r"```[^\n]*\n(.*?)```", text[text.index(MARK) :], flags=re.S)
    return [line.strip() for line in block[1].splitlines() if line.strip()]


def test_both_readmes_lead_with_the_same_route():
    """The route comes before any `make` command in both READMEs, with the same commands."""
    commands = route_commands()
    assert commands[0].startswith("pip install") and commands[-1].startswith("jupyter lab")
    assert "pip install --no-deps d2l==1.0.3" in commands and "resnet-data" in commands
    for name in ("README.md", "README.zh-CN.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert route_commands(ROOT / name) == commands, name
        assert text.index(MARK) < text.index("make lab"), f"{name}: the route must come before make"
        assert "https://download.pytorch.org/whl/cpu" in text, f"{name}: no CPU-only torch"
        assert "environment.yml" in text and "docs/data.md" in text, name


def test_the_route_has_no_shell_only_syntax():
    """One program and plain words per line, the same in PowerShell, cmd, zsh and bash: no quotes
    (cmd keeps single quotes), no globs or brackets (zsh expands `.[test]`), no `&&`, pipes,
    redirections, variables, `~` or backslashes."""
    for command in route_commands():
        assert not re.search(r"[\"'&|;<>$`*?\[\]{}()~\\]", command), command
        assert shlex.split(command) == command.split(), command


def test_the_route_installs_only_what_the_notebooks_need():
    """`pip install -e .`: the package's dependencies, not the test extra (`.[test]`)."""
    installs = [c for c in route_commands() if c.startswith("pip install")]
    assert installs == ["pip install -e .", "pip install --no-deps d2l==1.0.3"]


def test_make_lab_notebooks_zh_opens_the_chinese_notebooks():
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")

    # Run as a top-level make even when the tests run under `make test` (MAKEFLAGS and MAKELEVEL
    # would add "Entering directory" lines to the output).
    inherited = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    env = {k: v for k, v in os.environ.items() if k not in inherited}

    def lab_line(*args):
        command = [make, "--no-print-directory", "-n", "-o", "install", "-o", "data", "lab", "VENV=/venv"]
        command += args
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert lab_line().stdout.rstrip().endswith(" notebooks/")
    assert lab_line("NOTEBOOKS=zh").stdout.rstrip().endswith(" notebooks/zh/")
    wrong = lab_line("NOTEBOOKS=fr")
    assert wrong.returncode != 0 and "use NOTEBOOKS=zh for the Chinese notebooks" in wrong.stderr


def test_the_package_runs_no_shell():
    """Nothing a student runs goes through a shell (Windows has none of POSIX's)."""
    found = [
        f"{path.relative_to(ROOT)}: {m.group()}"
        for path in sorted((ROOT / "resnet_helpers").rglob("*.py"))
        for m in re.finditer(r"os\.system\(|os\.popen\(|shell=True|os\.path\.join\(", path.read_text())
    ]
    assert not found, found


def _python311() -> str:
    return shutil.which("python3.11") or sys.executable


@pytest.mark.slow
def test_the_route_runs_as_written_in_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    started = time.monotonic()
    subprocess.run([_python311(), "-m", "venv", str(venv)], check=True, timeout=300)
    scripts = venv / ("Scripts" if os.name == "nt" else "bin")
    port = _free_port()
    config = tmp_path / "jupyter"
    config.mkdir()
    server = {"allow_root": True, "open_browser": False, "port": port, "port_retries": 0}
    (config / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": server}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISPLAY", "WAYLAND_DISPLAY")}
    env.update(
        PATH=os.pathsep.join([str(scripts), env.get("PATH", "")]),  # what activating the venv does
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        RESNET_DATA_ROOT=str(tmp_path / "data"),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    seconds = {"venv": time.monotonic() - started}
    *setup, lab = route_commands()
    for command in setup:
        started = time.monotonic()
        done = subprocess.run(
            shlex.split(command),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        seconds[command] = time.monotonic() - started
        assert done.returncode == 0, f"`{command}` failed:\n{(done.stdout + done.stderr)[-3000:]}"
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    found = sorted(p.name for p in raw.iterdir() if not p.name.startswith("."))
    assert found == sorted(
        f"{split}-{kind}"
        for split in ("train", "t10k")
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")
    ), found

    # the package, d2l and the platform helpers import from the venv; the test tools are not there
    check = (
        "import importlib.util, json, d2l, resnet_helpers\n"
        "from resnet_helpers.platforms import detect_platform\n"
        f"print(json.dumps([resnet_helpers.__file__, detect_platform(), "
        f"[n for n in {TEST_TOOLS!r} if importlib.util.find_spec(n)]]))"
    )
    out = subprocess.run(
        [str(scripts / "python"), "-c", check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    where, platform, test_tools = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(where).resolve() == (ROOT / "resnet_helpers" / "__init__.py").resolve()  # editable
    assert platform == "local" and test_tools == []

    log = tmp_path / "lab.log"
    with open(log, "w") as output:
        proc = subprocess.Popen(
            shlex.split(lab),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        token = _wait_for_lab(proc, log, port, timeout=120)
        url = f"http://127.0.0.1:{port}/api/contents?token={token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            names = {item["name"] for item in json.load(response)["content"]}
        assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} <= names
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    print("student route, seconds:", json.dumps({k: round(v, 1) for k, v in seconds.items()}))
