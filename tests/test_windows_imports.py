"""Bug 1 of issue 25: on native Windows `training/runtime.py` imported `resource` at module level,
so `train_resnet`, the command line and the benchmark could not even be imported. Every module of
the package must import where the POSIX-only modules are missing."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSIX_ONLY = ("resource", "fcntl", "termios", "pwd", "grp")

# Run in a fresh interpreter: the POSIX-only modules are made unimportable (a meta-path finder that
# refuses them, as Windows' Python has none), then every module of resnet_helpers is imported.
IMPORT_EVERYTHING = f"""
import importlib, pkgutil, sys

POSIX_ONLY = {POSIX_ONLY!r}


class WindowsLike:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in POSIX_ONLY:
            raise ModuleNotFoundError(f"No module named {{name!r}} (as on Windows)", name=name)
        return None


for name in POSIX_ONLY:
    sys.modules.pop(name, None)
sys.meta_path.insert(0, WindowsLike())

import resnet_helpers

failed = []
names = ["resnet_helpers"]
for info in pkgutil.walk_packages(resnet_helpers.__path__, "resnet_helpers."):
    if info.name.endswith(".__main__"):  # running it is the command line itself
        continue
    names.append(info.name)
    try:
        importlib.import_module(info.name)
    except Exception as e:
        failed.append(f"{{info.name}}: {{type(e).__name__}}: {{e}}")
print(len(names), "modules")
print("\\n".join(failed))
"""


def import_everything(pythonpath: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(pythonpath), "MPLBACKEND": "Agg"},
        cwd=pythonpath,
        timeout=300,
    )


def test_every_module_imports_without_the_posix_only_modules():
    result = import_everything()
    assert result.returncode == 0, result.stderr
    count, *failed = result.stdout.strip().splitlines()
    assert int(count.split()[0]) > 10  # the walk found the package's modules
    assert failed == [], "modules that fail to import without the POSIX-only modules:\n" + "\n".join(failed)


def test_the_memory_note_says_unknown_without_proc_or_resource(monkeypatch):
    """Windows has neither /proc/self/status nor `resource`: the note says 'unknown', it does not fail."""
    import builtins

    from resnet_helpers.training import trainer

    real_open, real_import = builtins.open, builtins.__import__

    def no_proc(path, *args, **kwargs):
        if str(path).startswith("/proc"):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    def no_resource(name, *args, **kwargs):
        if name == "resource":
            raise ModuleNotFoundError("No module named 'resource'", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    monkeypatch.setattr(builtins, "__import__", no_resource)
    assert trainer.memory_note() == "RSS unknown (peak unknown)"
