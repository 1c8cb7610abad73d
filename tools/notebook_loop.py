"""Execute every notebook under notebooks/ N times in a row, as `make notebooks` does, to catch flaky kernels.

Each execution is the Makefile's `jupyter nbconvert --to notebook --execute` command (with its
store_widget_state=False), written to a temporary folder (the notebooks are never modified), with
RESNET_PROFILE=smoke unless the environment sets another profile. --timeout bounds each execution
(the whole command, kernel included) and is also nbconvert's cell timeout: a cell whose
execute_reply nbclient missed waits out the whole cell timeout and then carries on as if nothing had
happened, so only a bound on the whole execution catches it. Prints one line per execution and a
summary; exits 1 if any execution hung or failed.

    python tools/notebook_loop.py --runs 40 --timeout 900 [notebooks/01_*.ipynb ...]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def execute(notebook: Path, out_dir: Path, timeout: int) -> tuple[str, float, str]:
    """One nbconvert execution: ("ok" | "hang" | "fail", seconds, the end of its stderr)."""
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter), "nbconvert", "--to", "notebook", "--execute"]
    cmd += [f"--ExecutePreprocessor.timeout={timeout}", "--ExecutePreprocessor.store_widget_state=False"]
    cmd += ["--output-dir", str(out_dir), "--output", notebook.stem, str(notebook)]
    start = time.perf_counter()
    # On a hang, the whole session of nbconvert is killed; the kernel (jupyter_client starts it
    # in a session of its own) shuts itself down once its parent is gone.
    proc = subprocess.Popen(
        cmd,
        cwd=notebook.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        return "hang", time.perf_counter() - start, stderr[-1500:]
    seconds = time.perf_counter() - start
    if proc.returncode == 0:
        return "ok", seconds, ""
    return ("hang" if "CellTimeoutError" in stderr else "fail"), seconds, stderr[-1500:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb")
    parser.add_argument("--runs", type=int, default=10, help="executions of each notebook (default 10)")
    parser.add_argument(
        "--timeout", type=int, default=900, help="seconds per execution (default 900; 04 took 9 min loaded)"
    )
    args = parser.parse_args()
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    os.environ.setdefault("RESNET_PROFILE", "smoke")
    counts = {"ok": 0, "hang": 0, "fail": 0}
    with tempfile.TemporaryDirectory(prefix="notebook-loop-") as out_dir:
        for run in range(1, args.runs + 1):
            for nb in notebooks:
                kind, seconds, tail = execute(nb, Path(out_dir), args.timeout)
                counts[kind] += 1
                print(f"run {run}/{args.runs} {nb.name}: {kind} in {seconds:.1f} s", flush=True)
                if kind != "ok":
                    print("    " + tail.strip().replace("\n", "\n    "), flush=True)
    total = args.runs * len(notebooks)
    print(
        f"{counts['ok']} of {total} executions completed; {counts['hang']} hang(s), {counts['fail']} "
        f"failure(s) (RESNET_PROFILE={os.environ['RESNET_PROFILE']}, --timeout {args.timeout})"
    )
    return 1 if counts["hang"] or counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
