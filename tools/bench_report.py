"""The benchmark's (`bench.py`) arithmetic and wording, without any clock or device (tested on
made-up steps).

A *step* is a dict `{"wall": seconds, "images": n}`. The benchmark runs the sides in rounds
(course, ours at the course's precision, ours at its best, in a rotating order), so round `i` of
each side saw the same machine: the ratio of round `i` is one paired measurement, and the report
gives the median of those ratios with their range.
"""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """The median of paired measurements and their range."""

    median: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        if self.n == 1:
            return f"{self.median:.2f} (1 paired step: no spread)"
        return f"{self.median:.2f} ({self.low:.2f}-{self.high:.2f} over {self.n} paired steps)"


def rate(steps) -> float:
    """Images per second over all the steps (total images / total wall time)."""
    return sum(s["images"] for s in steps) / sum(s["wall"] for s in steps)


def step_rates(steps, key: str = "wall") -> list[float]:
    return [s["images"] / s[key] for s in steps]


def paired_ratios(course, ours) -> list[float]:
    """Round by round: ours' images/s over the course's images/s in the same round."""
    if len(course) != len(ours) or not course:
        raise ValueError(f"need the same number of rounds on both sides, got {len(course)} and {len(ours)}")
    return [o / c for o, c in zip(step_rates(ours), step_rates(course), strict=True)]


def spread(values) -> Spread:
    values = list(values)
    if not values:
        raise ValueError("no measurements")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def utilisation(images_per_s: float, flops_per_image: float, peak_flops: float) -> float:
    """Model FLOP utilisation: the share of a measured peak that the model's FLOPs reach."""
    return images_per_s * flops_per_image / peak_flops


def fp32_arithmetic(
    device_type: str, cudnn_tf32: bool = False, onednn_fpmath: str = "", capability: tuple | None = None
) -> str:
    """What an fp32 network's convolutions really compute in: `tf32` on a CUDA device that has it
    (compute `capability` 8.0 or more: Ampere and later; a T4 is 7.5) when cuDNN may use it
    (PyTorch's default), `bf16` on a CPU told to (oneDNN fpmath mode), else `fp32`."""
    if device_type == "cuda" and cudnn_tf32 and capability is not None and tuple(capability) >= (8, 0):
        return "tf32"
    if device_type == "cpu" and onednn_fpmath.strip().lower() in ("bf16", "any"):
        return "bf16"
    return "fp32"


def speedup_lines(pipeline: Spread, total: Spread, course_arith: str, best: str) -> list[str]:
    """The last two lines of the report: pipeline speedup, then `speedup:` (the total)."""
    same = ""
    if best == "fp32":
        same = f" (ours' best precision is the course's {course_arith}: the same measurement)"
    return [
        f"pipeline speedup: {pipeline} -- ours in fp32 ({course_arith} arithmetic, as the course) / "
        f"the course: same arithmetic, only the work around the network differs",
        f"speedup: {total} -- total: ours in {best} / the course in fp32{same}",
    ]


def interpretation(pipeline: Spread, total: Spread, best: str, course_util: float, ours_util: float) -> str:
    """One sentence that reads the numbers, true whatever they are (for notebook 04)."""

    def verdict(s: Spread) -> str:
        if s.low > 1.05:
            return f"faster in every paired step ({s.low:.2f}x at least)"
        if s.high < 0.95:
            return f"slower in every paired step ({s.high:.2f}x at most)"
        return f"not clearly different ({s.low:.2f}-{s.high:.2f}x: within the noise)"

    text = (
        f"In the same arithmetic (fp32), our pipeline is {verdict(pipeline)}: that is what keeping the data "
        f"on the device and the other pipeline changes bring on this machine. The course's network "
        f"reaches {100 * course_util:.0f}% of the peak of its own arithmetic"
    )
    if best == "fp32":
        return text + (
            f", ours {100 * ours_util:.0f}%. This machine has no faster arithmetic to offer "
            "(no bf16/fp16 chosen), so the total speedup is the pipeline speedup."
        )
    return text + (
        f". With {best}, against the course in fp32, ours is {verdict(total)} (median {total.median:.2f}x), "
        f"at {100 * ours_util:.0f}% of the {best} peak: the difference between the two ratios is "
        f"what {best} arithmetic brings."
    )


def _share(util: float, arith: str) -> str:
    """'61.2% of the fp32 peak', and a warning above 100% (then the peak measured here is too low)."""
    text = f"{100 * util:.1f}% of the {arith} peak"
    if util > 1:
        text += " (above 100%: this peak was measured too low; rerun, or give a larger --peak-size)"
    return text


def _range(values) -> str:
    return f"{values[0]:.1f}" if len(values) == 1 else f"{min(values):.1f}-{max(values):.1f}"


def build_report(device, best, arith, peaks, flops, warm, runs, native_bf16=True) -> tuple[list[str], dict]:
    """The report's lines (the last two: the speedups) and its numbers.

    `runs`: {"course": steps, "fp32": steps[, best: steps]}, round by round; a course step also has
    "step" (seconds without waiting for the loader); `warm`: what the course's warm-up reported."""
    course_arith = f"fp32, cuDNN convolutions in {arith}" if arith == "tf32" else arith
    emulated = "" if native_bf16 or "bf16" not in peaks else " (this CPU has no native bf16: emulated)"
    lines = [
        "peaks measured here (best of matmuls and a 3x3 convolution's training step, before/after): "
        + ", ".join(f"{k} {v / 1e9:,.1f} GFLOP/s" for k, v in peaks.items())
        + emulated,
        f"model: {flops / 1e9:.2f} GFLOP per training image (forward + backward, counted exactly)",
    ]
    c = runs["course"]
    loader = c[-1].get("loader_affinity") or []
    drained = (
        f"its prefetched batches ran out at step {warm['waited_at']} (the loader limits the course)"
        if warm.get("waited_at")
        else f"the loader stayed {warm['depth']} batches ahead of the steps (the steps limit the course)"
    )
    lines.append(
        f"course loader: d2l, {len(loader)} workers on CPUs {loader[0] if loader else '?'}; start-up "
        f"{warm['startup']:.2f} s (iter() to the first batch, not in the rates below); "
        f"{warm['steps']} warm-up steps: {drained}"
    )
    c_rate = rate(c)
    c_util = utilisation(c_rate, flops, peaks[arith])
    without = rate([{"wall": r["step"], "images": r["images"]} for r in c])
    result = {
        "device": device,
        "precision": best,
        "course_arithmetic": arith,
        "flops_per_image": flops,
        "peaks": peaks,
        "course_images_per_s": c_rate,
        "course_images_per_s_without_loading": without,
        "course_mfu": c_util,
        "loader_affinity": loader,
        "course_startup_s": warm["startup"],
    }
    lines.append(
        f"course (d2l loaders, {course_arith}, NCHW, train_ch6 step): {c_rate:.1f} images/s wall "
        f"clock (per round {_range(step_rates(c))}); {without:.1f} images/s without the data "
        f"loading (what train_ch6's examples/sec reports); {c_rate * flops / 1e9:.1f} GFLOP/s = "
        f"{_share(c_util, arith)}"
    )
    for name, steps in runs.items():
        if name == "course":
            continue
        own = arith if name == "fp32" else name
        r = rate(steps)
        util = utilisation(r, flops, peaks[own])
        result[f"ours_{name}_images_per_s"], result[f"ours_{name}_mfu"] = r, util
        lines.append(
            f"ours in {name} (data on {device}, channels_last, sums on device): {r:.1f} images/s wall "
            f"clock (per round {_range(step_rates(steps))}); {r * flops / 1e9:.1f} GFLOP/s = "
            f"{_share(util, own)}"
        )
    ceilings = ", ".join(f"{p / flops:,.1f} at the {a} peak" for a, p in peaks.items())
    lines.append(f"ceilings (images/s at 100% of a peak): {ceilings}")
    pipeline = spread(paired_ratios(c, runs["fp32"]))
    total = spread(paired_ratios(c, runs[best]))
    result.update(
        pipeline=pipeline,
        total=total,
        speedup=total.median,
        pipeline_speedup=pipeline.median,
        ours_images_per_s=result[f"ours_{best}_images_per_s"],
        ours_mfu=result[f"ours_{best}_mfu"],
    )
    result["interpretation"] = interpretation(pipeline, total, best, c_util, result["ours_mfu"])
    lines += speedup_lines(pipeline, total, arith, best)
    return lines, result


def fold(line: str, width: int = 100) -> str:
    """`line` folded at spaces into lines of at most `width`, continuations indented, so that no
    page or terminal breaks a word in two."""
    keep_words = {"break_long_words": False, "break_on_hyphens": False}
    return textwrap.fill(line, width, subsequent_indent="    ", **keep_words)


def folded(lines: list[str], width: int = 100) -> str:
    """The report as printed: every line folded (`fold`) but the last, which stays whole (it
    starts with `speedup:`, for scripts that read it)."""
    return "\n".join([*(fold(line, width) for line in lines[:-1]), *lines[-1:]])
