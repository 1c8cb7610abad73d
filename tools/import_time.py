"""How long `import resnet_helpers` takes next to `import torch` alone, each in a fresh process.

    python tools/import_time.py [--runs 5]

Alternates the two (torch, package, torch, package, ...) so both see the same machine, and
prints the medians and their ratio. The package's own work on import is the difference.
"""

import argparse
import statistics
import subprocess
import sys

CODE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def seconds(module: str) -> float:
    out = subprocess.run([sys.executable, "-c", CODE.format(module=module)], capture_output=True, text=True)
    return float(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    times = {"torch": [], "resnet_helpers": []}
    seconds("resnet_helpers")  # one untimed run: Python's bytecode cache written, files in the OS cache
    for _ in range(runs):
        for module in times:
            times[module].append(seconds(module))
    torch_s, ours_s = statistics.median(times["torch"]), statistics.median(times["resnet_helpers"])
    print(
        f"import torch: median {torch_s:.3f} s; import resnet_helpers: median {ours_s:.3f} s "
        f"(each in a fresh process, {runs} runs)"
    )
    print(f"ratio: {ours_s / torch_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
