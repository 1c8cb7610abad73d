"""Notebook 04's lesson module: where a training step's time goes, in d2l's pipeline and in ours,
and the words its cells print around their numbers, in English and in Chinese."""

import time
from types import SimpleNamespace

import matplotlib
import pytest
import torch

from resnet_helpers.data import CLASS_NAMES
from resnet_helpers.lessons import training as lesson
from resnet_helpers.lessons.training import PHASES, breakdown_figure, step_time_breakdown
from resnet_helpers.models import ResNetConfig
from resnet_helpers.profiles import Precision
from resnet_helpers.training.device_data import DeviceData
from resnet_helpers.training.recipes import RECIPES, RunSettings, improved_settings, run_settings

matplotlib.use("Agg")

SETTINGS = RunSettings(epochs=1, batch_size=4, resolution=16, train_size=16, test_size=8)
FP32 = Precision("fp32", None, False, "for the test")
SMALL = ResNetConfig(blocks=(1, 1), channels=(8, 16), stem_channels=8)  # a narrow ResNet: fast steps


class FakeLoader:
    """Batches of random tensors, like d2l's loader; counts the passes and the batches drawn,
    and may wait before each batch, as a loader's workers keep a step waiting."""

    def __init__(self, batches=4, side=16, batch_size=4, wait=0.0):
        g = torch.Generator().manual_seed(0)
        images = torch.rand(batches, batch_size, 1, side, side, generator=g)
        labels = torch.randint(0, 10, (batches, batch_size), generator=g)
        self.batches = list(zip(images, labels, strict=True))
        self.wait, self.passes, self.drawn = wait, 0, 0

    def __iter__(self):
        self.passes += 1
        for batch in self.batches:
            time.sleep(self.wait)
            self.drawn += 1
            yield batch


@pytest.fixture(scope="module")
def data():
    return DeviceData("cpu", SETTINGS.train_size, SETTINGS.test_size)


def breakdown(loader, data, steps=1, rounds=1):
    """step_time_breakdown on the small network in fp32."""
    kwargs = dict(steps=steps, rounds=rounds, precision=FP32, model=SMALL)
    return step_time_breakdown(loader, data, SETTINGS, **kwargs)


def test_breakdown_times_every_phase_of_both_pipelines_in_turns(data):
    loader = FakeLoader()
    result = breakdown(loader, data, steps=2, rounds=2)
    assert (loader.passes, loader.drawn) == (2, 2 * 3)  # a new pass each round, 1 warm-up + 2 steps
    assert result["phases"] == PHASES and result["steps"] == 4
    for side in ("course", "ours"):
        r = result[side]
        assert len(r["median"]) == len(r["low"]) == len(r["high"]) == len(PHASES)
        assert all(0 <= lo <= med <= hi for lo, med, hi in zip(r["low"], r["median"], r["high"], strict=True))
        assert r["total_range"][0] <= r["total"] <= r["total_range"][1]
    assert result["speedup"] == pytest.approx(result["course"]["total"] / result["ours"]["total"])
    assert (result["device"], result["precision"], result["resolution"]) == ("cpu", "fp32", 16)
    # Our data lives on the device: moving it is an empty phase, far shorter than the step's work.
    move, compute = result["ours"]["median"][1], result["ours"]["median"][2]
    assert move < compute / 10


def test_a_slow_loader_shows_as_loading_time_not_compute(data):
    wait = 0.05
    result = breakdown(FakeLoader(wait=wait), data)
    load, _, compute, _ = result["course"]["median"]
    assert load >= wait
    assert result["ours"]["median"][0] < wait  # our batches are made on the device, no waiting
    assert compute < result["course"]["total"]


def test_the_device_is_synchronised_at_every_phase_boundary(data, monkeypatch):
    calls = []
    monkeypatch.setattr(lesson, "synchronize", lambda device: calls.append(torch.device(device).type))
    breakdown(FakeLoader(), data)
    steps = 2 * 2  # (1 warm-up + 1 step) per pipeline
    assert calls == ["cpu"] * steps * (1 + len(PHASES))  # the start of a step, then each phase's end


def test_breakdown_leaves_the_callers_random_numbers_alone(data):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    breakdown(FakeLoader(), data)
    assert torch.equal(torch.get_rng_state(), before)


def test_breakdown_refuses_batches_of_another_size_naming_the_fix(data):
    with pytest.raises(ValueError, match=r"batch_size=4, resize=16"):
        breakdown(FakeLoader(side=28), data)


def test_breakdown_says_when_a_pipeline_runs_out_of_batches(data):
    with pytest.raises(ValueError, match=r"ran out of batches after 2; each round needs 1 \+ steps = 4"):
        breakdown(FakeLoader(batches=2), data, steps=3)


def test_figure_stacks_each_phase_median_on_one_bar_per_pipeline():
    def side(medians):
        total = sum(medians)
        return {"median": medians, "low": medians, "high": medians, "total": total, "total_range": (0, total)}

    result = {
        "course": side([0.5, 0.1, 2.0, 0.2]),
        "ours": side([0.01, 0.0, 1.0, 0.05]),
        "phases": PHASES,
        "speedup": 2.8 / 1.06,
        "steps": 6,
        "device": "cpu",
        "precision": "bf16",
        "batch_size": 256,
        "resolution": 96,
    }
    fig = breakdown_figure(result)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 2 * len(PHASES)
    assert [b.get_width() for b in bars[0::2]] == pytest.approx(result["course"]["median"])
    assert [b.get_width() for b in bars[1::2]] == pytest.approx(result["ours"]["median"])
    # stacked: each phase starts where the phases before it end
    assert bars[4].get_x() == pytest.approx(0.5 + 0.1)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(PHASES)
    assert "ours: DeviceData + trainer (bf16)" in [t.get_text() for t in ax.get_yticklabels()]
    assert "96x96" in ax.get_title()
    matplotlib.pyplot.close(fig)


# --------------------------------------------------------------- the words the cells print
# Each function is called with the numbers that produced notebook 04's saved output (cpu profile,
# fp32): the English must be that output byte for byte; under set_language("zh"), the Chinese.

S, SI, COURSE = run_settings("cpu"), improved_settings("cpu"), run_settings("full")
MISTAKES = torch.zeros(10, 10, dtype=torch.long)
MISTAKES[6, 0], MISTAKES[6, 4], MISTAKES[0, 6], MISTAKES[2, 4] = 123, 92, 87, 80
TARGET = torch.full((10,), 0.1 / 10) + 0.9 * torch.eye(10)[0]  # exercise 1: label smoothing 0.1
FLOOR = -(TARGET * TARGET.log()).sum().item()
COURSE_RUN = SimpleNamespace(test_acc=0.598, wall_time=24.2)
OUR_RUN = SimpleNamespace(
    test_acc=0.631,
    precision="fp32",
    wall_time=21.44,
    train_time=16.96,
    notes=["precision fp32 (RESNET_PRECISION=fp32 (autocast off))"],
)
SPLIT = {
    "batch_size": 256,
    "resolution": 96,
    "course": {"total": 3.68},
    "ours": {"total": 3.53},
    "precision": "fp32",
    "speedup": 3.68 / 3.53,
}
STATE = dict.fromkeys(
    ["config", "epoch", "format", "history", "model", "optimizer", "rng", "scaler", "scheduler"]
)
STATE.update(epoch=3, config={"settings": {"epochs": 3}})
REFUSAL = Exception(
    "the checkpoint checkpoints/04_improved_cpu.pt was written by a run with other settings "
    "(saved -> now: settings.epochs 3 -> 4). A resumed run must be the same run: resume with "
    "the saved settings, or give another checkpoint path to start a new run."
)
CASES = {
    "run_sizes": lambda: lesson.run_sizes("cpu", S, SI, COURSE),
    "image_costs": lambda: lesson.image_costs(11_178_378, {96: 636.9e6, 28: 66.0e6}),
    "feature_map_sides": lambda: (
        lesson.feature_map_sides(96, [24, 24, 12, 6, 3])
        + "\n"
        + lesson.feature_map_sides(28, [7, 7, 4, 2, 1])
    ),
    "course_data": lambda: lesson.course_data(4000, 4000, 4, 16, S, COURSE),
    "examples_vs_wall_clock": lambda: lesson.examples_vs_wall_clock(487.9, 24.2, 8000, 331.2),
    "images_on_device": lambda: lesson.images_on_device(
        4000, 4000, torch.device("cpu"), 6.272, "glibc keeps freed memory (no mmap, no trim)"
    ),
    "speed_summary": lambda: lesson.speed_summary(COURSE_RUN, OUR_RUN, 16.4),
    "breakdown_summary": lambda: lesson.breakdown_summary(SPLIT),
    "recipe_summary": lambda: lesson.recipe_summary(RECIPES["improved"]),
    "recipe_gain": lambda: lesson.recipe_gain(0.907, 0.276, S, SI),
    "accuracy_title": lambda: lesson.accuracy_title("improved", 0.907),
    "most_confused": lambda: lesson.most_confused(MISTAKES, CLASS_NAMES, top=3),
    "checkpoint_contents": lambda: lesson.checkpoint_contents("checkpoints/04_improved_cpu.pt", STATE),
    "resume_check": lambda: lesson.resume_check(0.907, True),
    "lesson_time": lambda: lesson.lesson_time(
        8.2, "cpu", "device cpu (Intel(R) Xeon(R) Processor, 2 threads) | precision fp32"
    ),
    "loss_floors": lambda: lesson.loss_floors(FLOOR, 0.635, 0.6906),
    "untimed_share": lambda: lesson.untimed_share(16.4, 24.2),
    "refusal": lambda: lesson.refusal(REFUSAL),
    "fair_comparison": lambda: lesson.fair_comparison(32, 0.631, 0.421),
}

EN = {
    "run_sizes": (
        "profile cpu: (a), (b): 4,000 training images at 28x28, 2 epoch(s), batch 256, test on 4,000 images\n"
        "             (c): 60,000 training images at 28x28, 3 epoch(s), batch 256, test on 10,000 images\n"
        "the course's run: 60,000 training images at 96x96, 10 epoch(s), batch 256, test on 10,000 images\n"
        "(a), (b) train 7% of the images, 20% of the epochs, 9% of the pixels: 0.11% of the course's run\n"
        "(c) trains 100% of the images, 30% of the epochs, 9% of the pixels: 2.55% of the course's run"
    ),
    "image_costs": (
        "ResNet-18: 11,178,378 parameters\n"
        "96x96: 0.637 GFLOP forward, about 1.91 GFLOP per training image\n"
        "28x28: 0.066 GFLOP forward, about 0.20 GFLOP per training image"
    ),
    "feature_map_sides": (
        "96x96 input: 24x24 after the stem; stages 24x24, 12x12, 6x6, 3x3\n"
        "28x28 input: 7x7 after the stem; stages 7x7, 4x4, 2x2, 1x1"
    ),
    "course_data": (
        "4,000 training and 4,000 test images, 4 loader workers, 16 batches per epoch\n"
        "a slice: 7% of the images, 20% of the epochs, 9% of the pixels: 0.11% of the course's run"
    ),
    "examples_vs_wall_clock": (
        "train_ch6 reports 487.9 examples/sec (training steps only)\n"
        "wall clock: 24.2 s for 8,000 training images = 331.2 images/s, evaluation included"
    ),
    "images_on_device": (
        "4,000 training and 4,000 test images on cpu: 6.3 MB\n"
        "CPU allocator: glibc keeps freed memory (no mmap, no trim)"
    ),
    "speed_summary": (
        "test acc: d2l 0.598, ours 0.631 (same recipe, other shuffling; d2l in fp32, ours in fp32)\n"
        "wall clock: d2l 24.2 s, ours 21.4 s -> speedup 1.13x\n"
        "  training steps: d2l 16.4 s, ours 17.0 s; the rest: d2l 7.8 s, ours 4.5 s\n"
        "precision fp32 (RESNET_PRECISION=fp32 (autocast off))"
    ),
    "breakdown_summary": (
        "a step of 256 images at 96x96: d2l 3.68 s (fp32), ours 3.53 s (fp32): 1.0x faster"
    ),
    "recipe_summary": (
        "improved recipe: SGD with Nesterov momentum 0.95 -> 0.85 -> 0.95 against a one-cycle lr up to 0.2,\n"
        "weight decay 5e-4, label smoothing 0.1, random horizontal flip, residual branches start at zero"
    ),
    "recipe_gain": (
        "improved recipe: test acc 0.907, +0.276 over the course's recipe in (b)\n"
        "(b): 4,000 training images at 28x28, 2 epoch(s), batch 256, test on 4,000 images\n"
        "(c): 60,000 training images at 28x28, 3 epoch(s), batch 256, test on 10,000 images\n"
        "(c) trained on more images and epochs than (b): this gain mixes the recipe with the data\n"
        "(exercise 5 compares the recipes on (b)'s settings)"
    ),
    "accuracy_title": ("improved recipe, test acc 0.907"),
    "most_confused": (
        "    shirt taken for t-shirt    123 times\n"
        "    shirt taken for coat        92 times\n"
        "  t-shirt taken for shirt       87 times"
    ),
    "checkpoint_contents": (
        "checkpoints/04_improved_cpu.pt: after epoch 3 of 3\n"
        "holds: config, epoch, format, history, model, optimizer, rng, scaler, scheduler"
    ),
    "resume_check": ("test acc 0.907; same weights as the run that wrote it: True"),
    "lesson_time": (
        "the lesson took 8.2 min under profile cpu (the solutions below add a little)\n"
        "on device cpu (Intel(R) Xeon(R) Processor, 2 threads) | precision fp32"
    ),
    "loss_floors": (
        "smallest loss with label smoothing 0.1: 0.500 (0 without)\n"
        "(b) course recipe, no smoothing: final training loss 0.635, 0.635 above its floor of 0.000\n"
        "(c) improved recipe, smoothing 0.1: final training loss 0.691, 0.190 above its floor of 0.500"
    ),
    "untimed_share": (
        "timed steps 16.4 s of 24.2 s: 32% of the wall time was data loading, evaluation and plotting"
    ),
    "refusal": (
        "refused: the checkpoint checkpoints/04_improved_cpu.pt was written by a run with other settings\n"
        "(saved -> now: settings.epochs 3 -> 4). A resumed run must be the same run: resume with the saved\n"
        "settings, or give another checkpoint path to start a new run."
    ),
    "fair_comparison": (
        "on (b)'s settings, 32 steps: course recipe 0.631, improved recipe 0.421\n"
        "-> the course recipe wins here"
    ),
}
ZH = {
    "run_sizes": (
        "档位 cpu：(a) 和 (b)：4,000 张 28×28 的训练图像，2 个迭代周期，批量大小 256，在 4,000 张图像上测试\n"
        "          (c)：60,000 张 28×28 的训练图像，3 个迭代周期，批量大小 256，在 10,000 张图像上测试\n"
        "课程的训练：60,000 张 96×96 的训练图像，10 个迭代周期，批量大小 256，在 10,000 张图像上测试\n"
        "(a) 和 (b) 训练了图像的 7%、迭代周期的 20%、像素的 9%：课程那次训练的 0.11%\n"
        "(c) 训练了图像的 100%、迭代周期的 30%、像素的 9%：课程那次训练的 2.55%"
    ),
    "image_costs": (
        "ResNet-18：11,178,378 个参数\n"
        "96×96：前向传播 0.637 GFLOP，每张训练图像约 1.91 GFLOP\n"
        "28×28：前向传播 0.066 GFLOP，每张训练图像约 0.20 GFLOP"
    ),
    "feature_map_sides": (
        "输入 96×96：起始层之后为 24×24；各阶段依次为 24×24、12×12、6×6、3×3\n"
        "输入 28×28：起始层之后为 7×7；各阶段依次为 7×7、4×4、2×2、1×1"
    ),
    "course_data": (
        "4,000 张训练图像和 4,000 张测试图像，4 个加载工作进程，每个迭代周期 16 个小批量\n"
        "一部分：图像的 7%、迭代周期的 20%、像素的 9%：课程那次训练的 0.11%"
    ),
    "examples_vs_wall_clock": (
        "train_ch6 报告每秒 487.9 个样本（examples/sec，只算训练步）\n"
        "挂钟时间：8,000 张训练图像用了 24.2 秒，即每秒 331.2 张，含评估"
    ),
    "images_on_device": (
        "cpu 上有 4,000 张训练图像和 4,000 张测试图像：6.3 MB\n"
        "CPU 内存分配器：glibc keeps freed memory (no mmap, no trim)"
    ),
    "speed_summary": (
        "测试精度：d2l 0.598，我们的 0.631（训练方案相同，随机打乱不同；d2l 用 fp32，我们的用 fp32）\n"
        "挂钟时间：d2l 24.2 秒，我们的 21.4 秒 -> 加速比 1.13\n"
        "  训练步：d2l 16.4 秒，我们的 17.0 秒；其余部分：d2l 7.8 秒，我们的 4.5 秒\n"
        "precision fp32 (RESNET_PRECISION=fp32 (autocast off))"
    ),
    "breakdown_summary": (
        "一个训练步（256 张 96×96 的图像）：d2l 3.68 秒（fp32），我们的 3.53 秒（fp32）：速度是 d2l 的 1.0 倍"
    ),
    "recipe_summary": (
        "improved 训练方案：带 Nesterov 动量的 SGD，动量 0.95 -> 0.85 -> 0.95，配合学习率最高到 0.2\n"
        "的单周期学习率调度，权重衰减 5e-4，标签平滑 0.1，随机水平翻转，残差分支从零开始"
    ),
    "recipe_gain": (
        "改进的训练方案：测试精度 0.907，相对 (b) 中课程的训练方案 +0.276\n"
        "(b)：4,000 张 28×28 的训练图像，2 个迭代周期，批量大小 256，在 4,000 张图像上测试\n"
        "(c)：60,000 张 28×28 的训练图像，3 个迭代周期，批量大小 256，在 10,000 张图像上测试\n"
        "(c) 比 (b) 训练了更多的图像和迭代周期：这个提升混合了训练方案和数据的作用\n"
        "（练习 5 在 (b) 的设置下比较两个训练方案）"
    ),
    "accuracy_title": ("improved 训练方案，测试精度 0.907"),
    "most_confused": (
        "    shirt 被当成 t-shirt    123 次\n"
        "    shirt 被当成 coat        92 次\n"
        "  t-shirt 被当成 shirt       87 次"
    ),
    "checkpoint_contents": (
        "checkpoints/04_improved_cpu.pt：共 3 个迭代周期，已完成第 3 个\n"
        "包含：config, epoch, format, history, model, optimizer, rng, scaler, scheduler"
    ),
    "resume_check": ("测试精度 0.907；权重与写入检查点的那次训练相同：True"),
    "lesson_time": (
        "本课在档位 cpu 下用了 8.2 分钟（下面的答案还要再多用一点时间）\n"
        "运行环境：device cpu (Intel(R) Xeon(R) Processor, 2 threads) | precision fp32"
    ),
    "loss_floors": (
        "标签平滑为 0.1 时的最小损失：0.500（不做标签平滑时为 0）\n"
        "(b) 课程的训练方案，不做标签平滑：最终训练损失 0.635，比它的下限 0.000 高 0.635\n"
        "(c) 改进的训练方案，标签平滑 0.1：最终训练损失 0.691，比它的下限 0.500 高 0.190"
    ),
    "untimed_share": (
        "挂钟时间 24.2 秒中计时的训练步占 16.4 秒：挂钟时间的 32% 用在了数据加载、评估和画图上"
    ),
    "refusal": (
        "被拒绝：the checkpoint checkpoints/04_improved_cpu.pt was written by a run with other settings\n"
        "(saved -> now: settings.epochs 3 -> 4). A resumed run must be the same run: resume with the saved\n"
        "settings, or give another checkpoint path to start a new run."
    ),
    "fair_comparison": (
        "在 (b) 的设置下训练 32 步：课程的训练方案 0.631，改进的训练方案 0.421\n-> 这里课程的训练方案胜出"
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_cells_words_are_its_saved_english_output(name):
    assert CASES[name]() == EN[name]


@pytest.mark.parametrize("name", list(CASES))
def test_each_cells_words_in_chinese(name, in_chinese):
    assert CASES[name]() == ZH[name]


def test_the_other_branches_of_the_cells_words():
    assert lesson.fair_comparison(32, 0.6, 0.7).endswith("\n-> the improved recipe wins here")
    assert lesson.course_data(60_000, 10_000, 4, 235, COURSE, COURSE).endswith("\nthe course's whole run")
    assert lesson.recipe_gain(0.943, 0.031, COURSE, COURSE) == (
        "improved recipe: test acc 0.943, +0.031 over the course's recipe in (b)"
    )
    assert lesson.images_on_device(60_000, 10_000, "cuda:0", 54.9) == (
        "60,000 training and 10,000 test images on cuda:0: 54.9 MB"
    )


def test_every_recipe_description_has_its_words_in_the_catalog(in_chinese):
    for recipe in RECIPES.values():
        assert lesson._recipe_description(recipe) != recipe.description


def test_chinese_lines_are_wrapped_at_full_width_punctuation():
    text = "，".join(["训练方案" * 5] * 6)  # 6 pieces of 40 columns (41 with the comma)
    lines = lesson._fill(text, width=100).split("\n")
    assert "".join(lines) == text and len(lines) == 3
    assert all(lesson._width(line) <= 100 for line in lines) and lines[0].endswith("，")
