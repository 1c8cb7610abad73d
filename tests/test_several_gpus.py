"""Notebook 07's lesson module: the words its cells print around their numbers, in English and in
Chinese. Each function is called with the numbers that produced the saved output (cpu profile): the
English must be that output byte for byte; under set_language("zh"), the Chinese."""

import pytest

from resnet_helpers.lessons import several_gpus as lesson

ARGS = [
    "--recipe",
    "course",
    "--epochs",
    "1",
    "--train-size=2048",
    "--test-size=1000",
    "--batch-size=128",
    "--resolution=28",
]
LAST = {
    1: [
        "epoch 1/1: loss 2.265, train acc 0.444, test acc 0.148, 509.9 images/s",
        "509.9 images/s (wall clock of the training steps, data included); precision bf16 (CPU has AVX512-BF16/AMX)",  # noqa: E501
        "test acc 0.148",
    ],
    2: [
        "epoch 1/1: loss 3.366, train acc 0.413, test acc 0.385, 302.0 images/s",
        "302.0 images/s (wall clock of the training steps, data included); precision bf16 (CPU has AVX512-BF16/AMX)",  # noqa: E501
        "test acc 0.385",
    ],
}
SECONDS = {1: 10.26, 2: 14.04}
MACHINE = "device cpu (Intel(R) Xeon(R) Processor, 2 threads) | precision bf16"
N = 11_178_378
CASES = {
    "gradient_check": lambda: lesson.gradient_check(True),
    "training_args": lambda: lesson.training_args(ARGS),
    "launch_report+time_ratio": lambda: "\n".join(
        [lesson.launch_report(n, SECONDS[n], LAST[n]) for n in (1, 2)]
        + [lesson.time_ratio(SECONDS, 2, MACHINE)]
    ),
    "all_reduce_cost": lambda: lesson.all_reduce_cost(N, 4 * N / 1e6, 4 * N / 1e6, 4 * N / 1e6 / 10e3 * 1e3),
    "shard_check": lambda: lesson.shard_check(False, False) + "\n" + lesson.shard_check(True, True),
}

EN = {
    "gradient_check": ("averaged shard gradients == whole-batch gradient: True"),
    "training_args": (
        "training: --recipe course --epochs 1 --train-size=2048 --test-size=1000 --batch-size=128 --resolution=28"  # noqa: E501
    ),
    "launch_report+time_ratio": (
        "1 process(es): 10.3 s wall clock\n"
        "    epoch 1/1: loss 2.265, train acc 0.444, test acc 0.148, 509.9 images/s\n"
        "    509.9 images/s (wall clock of the training steps, data included); precision bf16 (CPU has AVX512-BF16/AMX)\n"  # noqa: E501
        "    test acc 0.148\n"
        "2 process(es): 14.0 s wall clock\n"
        "    epoch 1/1: loss 3.366, train acc 0.413, test acc 0.385, 302.0 images/s\n"
        "    302.0 images/s (wall clock of the training steps, data included); precision bf16 (CPU has AVX512-BF16/AMX)\n"  # noqa: E501
        "    test acc 0.385\n"
        "2 processes / 1 process: 1.37x the time (2 CPU cores seen, device: device cpu (Intel(R) Xeon(R) Processor, 2 threads) | precision bf16)"  # noqa: E501
    ),
    "all_reduce_cost": (
        "11,178,378 gradients = 44.7 MB per all-reduce; each of 2 devices sends 44.7 MB\n"
        "at 10 GB/s: about 4.5 ms per step"
    ),
    "shard_check": (
        "unweighted: equal to the whole-batch gradient: False\n"
        "weighted: equal to the whole-batch gradient: True"
    ),
}
ZH = {
    "gradient_check": ("各份梯度的平均值 == 整个小批量的梯度：True"),
    "training_args": (
        "训练参数：--recipe course --epochs 1 --train-size=2048 --test-size=1000 --batch-size=128 --resolution=28"  # noqa: E501
    ),
    "launch_report+time_ratio": (
        "1 个进程：挂钟时间 10.3 秒\n"
        "    epoch 1/1: loss 2.265, train acc 0.444, test acc 0.148, 509.9 images/s\n"
        "    509.9 images/s (wall clock of the training steps, data included); precision bf16 (CPU has AVX512-BF16/AMX)\n"  # noqa: E501
        "    test acc 0.148\n"
        "2 个进程：挂钟时间 14.0 秒\n"
        "    epoch 1/1: loss 3.366, train acc 0.413, test acc 0.385, 302.0 images/s\n"
        "    302.0 images/s (wall clock of the training steps, data included); precision bf16 (CPU has AVX512-BF16/AMX)\n"  # noqa: E501
        "    test acc 0.385\n"
        "2 个进程 / 1 个进程：用时是后者的 1.37 倍（看到 2 个 CPU 核，设备：device cpu (Intel(R) Xeon(R) Processor, 2 threads) | precision bf16）"  # noqa: E501
    ),
    "all_reduce_cost": (
        "11,178,378 个梯度 = 每次全归约 44.7 MB；2 个设备各发送 44.7 MB\n按 10 GB/s 计算：每一步约 4.5 毫秒"
    ),
    "shard_check": ("不加权：等于整个小批量的梯度：False\n加权：等于整个小批量的梯度：True"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_cells_words_are_its_saved_english_output(name):
    assert CASES[name]() == EN[name]


@pytest.mark.parametrize("name", list(CASES))
def test_each_cells_words_in_chinese(name, in_chinese):
    assert CASES[name]() == ZH[name]
