"""`make lab`, the main command, as the tests' user runs it (root too, issue 18): JupyterLab starts,
prints the URL to open (no browser here: no display), and serves the notebooks over HTTP.

The test runs the Makefile's own `lab` target, with `-o install -o data` (this checkout is set up:
`make unit` has just done both), on a free port (LAB_PORT) and with the Python environment that
runs the tests (VENV), JupyterLab's runtime, config, settings and workspaces in a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_lab(proc: subprocess.Popen, log: Path, port: int, timeout: float = 60) -> str:
    """The token of the JupyterLab that `proc` started, once it answers HTTP on `port`."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(rf"http://(?:localhost|127\.0\.0\.1):{port}/lab\?token=(\w+)", log.read_text())
        if found:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={found[1]}", timeout=2)
                return found[1]
            except OSError:
                pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"`make lab` did not serve on port {port}:\n{log.read_text()[-4000:]}")
        time.sleep(0.25)


def test_make_lab_serves_the_notebooks(tmp_path):
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    notebook = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))[0]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    env.update(
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [make, "-o", "install", "-o", "data", "lab", f"LAB_PORT={port}", f"VENV={sys.prefix}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make, and the JupyterLab it started
        )
    try:
        token = _wait_for_lab(proc, log, port)
        url = f"http://127.0.0.1:{port}/api/contents/{notebook}?token={token}&content=1"
        with urllib.request.urlopen(url, timeout=30) as response:
            model = json.load(response)
        assert model["type"] == "notebook" and model["name"] == notebook
        assert model["content"]["cells"], "the notebook came back empty"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    as_root = os.geteuid() == 0
    assert ("make lab: running as root: JupyterLab starts with --allow-root" in text) == as_root
    assert ("--allow-root" in text) == as_root
    assert "make lab: no display here: --no-browser; open the URL JupyterLab prints below" in text
    assert "Running as root is not recommended" not in text
