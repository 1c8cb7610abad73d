"""The trainer: it learns, resumes exactly, survives damaged checkpoints, steps in its precision."""

import math
import re

import matplotlib
import pytest
import torch
from torch import nn

from resnet_helpers import ResNetConfig, build_resnet, choose_precision
from resnet_helpers.blocks import Residual
from resnet_helpers.lessons.training import confusion_matrix, plot_confusion_matrix, show_mistakes
from resnet_helpers.profiles import Precision
from resnet_helpers.training.course import subset_loader
from resnet_helpers.training.device_data import (
    DeviceData,
    augment,
    autocast,
    batch_bounds,
    make_grad_scaler,
    to_input,
    tune_cpu_allocator,
)
from resnet_helpers.training.progress import plot_history
from resnet_helpers.training.recipes import RECIPES, Recipe, RunSettings, init_weights, run_settings, sgd
from resnet_helpers.training.trainer import (
    CheckpointError,
    Trainer,
    TrainingInterrupted,
    cudnn_benchmark,
    load_checkpoint,
    save_checkpoint,
    train_resnet,
)

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
    assert row["precision"] == result.precision and row["epochs"] == 4
    assert row["wall time (s)"] == round(sum(result.history["wall_time"]), 1) > 0


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
    with pytest.raises(TrainingInterrupted) as interrupted:
        train_resnet(TINY, "improved", settings, data=data, checkpoint=tmp_path / "b.pt", **quiet())
    monkeypatch.setattr(Trainer, "train_step", original_step)
    assert isinstance(interrupted.value, KeyboardInterrupt)  # "Run all" in a notebook stops here
    assert interrupted.value.saved_epoch == 1 and interrupted.value.resumable
    assert str(tmp_path / "b.pt") in str(interrupted.value) and "resume=True" in str(interrupted.value)
    assert interrupted.value.__suppress_context__  # no second traceback of where the interrupt hit
    saved = load_checkpoint(tmp_path / "b.pt")
    assert saved["epoch"] == 1

    torch.manual_seed(1234)  # the global RNG state must not matter: the checkpoint restores it
    callers = torch.get_rng_state()
    resumed = train_resnet(
        TINY, "improved", settings, data=data, checkpoint=tmp_path / "b.pt", resume=True, **quiet()
    )
    assert torch.equal(torch.get_rng_state(), callers)  # ... inside the run only: the caller's is as it was
    assert resumed.resumed_from == 1
    assert resumed.history["wall_time"][0] == saved["history"]["wall_time"][0]  # the first session's
    assert _same_state(straight.net.state_dict(), resumed.net.state_dict())
    assert straight.history["test_acc"] == resumed.history["test_acc"]
    assert straight.history["train_loss"] == resumed.history["train_loss"]


def test_load_state_dict_restores_rng_and_loads_into_the_trainers_tensors(data, tmp_path):
    """A checkpoint loaded with map_location="cpu" (as fit() loads it: the RNG state must stay a
    CPU tensor, or torch.set_rng_state refuses it on a GPU machine) restores the RNG state, and
    weights and optimiser state land in the trainer's own tensors, on the trainer's device."""
    path = tmp_path / "d.pt"
    train_resnet(TINY, "improved", SIZES.replace(epochs=1), data=data, checkpoint=path, **quiet())
    state = load_checkpoint(path, map_location="cpu")
    torch.manual_seed(1234)  # another RNG state than the saved one
    assert not torch.equal(torch.get_rng_state(), state["rng"]["torch"])
    trainer = Trainer(
        build_resnet(TINY), data, "improved", SIZES.replace(epochs=1), checkpoint=path, **quiet()
    )
    params = list(trainer.net.parameters())
    trainer.load_state_dict(state)
    assert torch.equal(torch.get_rng_state(), state["rng"]["torch"])
    assert all(a is b for a, b in zip(params, trainer.net.parameters(), strict=True))  # copied in place
    assert _same_state(trainer.net.state_dict(), state["model"])
    momentum = [s["momentum_buffer"] for s in trainer.optimizer.state.values()]
    assert len(momentum) == len(params)
    assert all(m.device == p.device == trainer.device for m, p in zip(momentum, params, strict=True))
    assert trainer.epoch == trainer.saved_epoch == 1


def test_a_module_is_trained_as_given(data):
    """Issue 12: train_resnet(module) re-initialised the module (course recipe: Xavier)."""
    net = build_resnet(TINY)
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    lines = []
    frozen = Recipe("frozen", lr=0.0)  # the course recipe's Xavier init, but steps change nothing
    result = train_resnet(net, frozen, SIZES.replace(epochs=1), data=data, **quiet(log=lines.append))
    assert all(torch.equal(p, before[name]) for name, p in net.named_parameters())
    assert "trained as it is" in lines[0] and "init_weights" in lines[0]
    assert any("not re-initialised" in note for note in result.notes)


def test_improved_recipe_trains_a_module_that_is_not_our_resnet(data):
    """Issue 12: the improved recipe crashed with AttributeError 'zero_init_residual_' on a module
    that is not our ResNet; its zero-init now works on any module with residual blocks."""

    def small_cnn():
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 10),
        )

    result = train_resnet(small_cnn(), "improved", SIZES.replace(epochs=1), data=data, **quiet())
    assert result.model == "Sequential" and len(result.history["test_acc"]) == 1
    assert init_weights(small_cnn(), RECIPES["improved"])[0].endswith("no residual branch was zeroed")
    with_blocks = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), Residual(8, 8), Residual(8, 8))
    assert init_weights(with_blocks, RECIPES["improved"]) == []
    for block in with_blocks[1:]:
        last = [layer for layer in block.branch_layers() if hasattr(layer, "weight")][-1]
        assert not last.weight.any() and not last.bias.any()


def test_a_finished_run_resumed_reports_the_original_figures(data, tmp_path):
    """Issue 12: resuming a finished run divided all epochs' images by this session's few
    milliseconds (37,080 images/s for a 3,111 images/s run)."""
    path = tmp_path / "w.pt"
    first = train_resnet(TINY, "course", SIZES, data=data, checkpoint=path, **quiet())
    again = train_resnet(TINY, "course", SIZES, data=data, checkpoint=path, resume=True, **quiet())
    assert again.resumed_from == SIZES.epochs
    assert again.row() == first.row()
    assert again.wall_time == first.wall_time and again.session_time < first.wall_time
    assert again.images_per_s == first.images_per_s

    # A checkpoint from before wall times were saved: not comparable, so NaN rather than a guess.
    state = torch.load(path, weights_only=True)
    del state["history"]["wall_time"]
    save_checkpoint(path, state)
    old = train_resnet(TINY, "course", SIZES, data=data, checkpoint=path, resume=True, **quiet())
    assert math.isnan(old.wall_time) and math.isnan(old.row()["images/s (wall clock)"])


def test_a_last_batch_of_one_image_joins_the_batch_before():
    """Issue 12: --train-size 257 --batch-size 256 at 28x28 crashed BatchNorm ("Expected more
    than 1 value per channel when training"): ResNet-18's last stage is 1x1 there."""
    assert batch_bounds(257, 256) == [(0, 257)]
    assert batch_bounds(513, 256) == [(0, 256), (256, 513)]
    assert batch_bounds(258, 256) == [(0, 256), (256, 258)] and batch_bounds(1, 256) == [(0, 1)]
    small = DeviceData("cpu", train_size=257, test_size=64)
    assert [len(y) for _, y in small.train_batches(256, 28)] == [257] and small.num_batches(256) == 1
    settings = RunSettings(epochs=1, batch_size=256, resolution=28, train_size=257, test_size=64)
    result = train_resnet("resnet18", "course", settings, data=small, **quiet())
    assert len(result.history["test_acc"]) == 1 and result.images_seen == 257
    # The one-cycle schedule is sized by num_batches: a mismatch would make it step too often.
    odd = DeviceData("cpu", train_size=129, test_size=64)
    assert [len(y) for _, y in odd.train_batches(16, 28, epoch=1)] == [16] * 7 + [17]
    train_resnet(TINY, "improved", SIZES.replace(epochs=2, batch_size=16), data=odd, **quiet())


def test_the_trainer_leaves_process_settings_alone(data, monkeypatch):
    """Issue 12: Trainer.__init__ tuned glibc's allocator for the whole process and turned
    cudnn.benchmark on for good. Now only on request, and cuDNN's only while fit() runs."""
    import resnet_helpers.training.trainer as trainer_module

    calls = []
    monkeypatch.setattr(trainer_module, "tune_cpu_allocator", lambda: calls.append(1) or "tuned")
    benchmark = torch.backends.cudnn.benchmark
    trainer = Trainer(build_resnet(TINY), data, "course", SIZES.replace(epochs=1), **quiet())
    trainer.fit()
    assert calls == [] and not any("allocator" in note for note in trainer.notes)
    assert torch.backends.cudnn.benchmark == benchmark
    asked = Trainer(build_resnet(TINY), data, "course", SIZES, tune_allocator=True, **quiet())
    assert calls == [1] and "CPU allocator: tuned" in asked.notes


def test_cudnn_benchmark_is_on_only_inside_the_block():
    before = torch.backends.cudnn.benchmark
    with cudnn_benchmark(not before):
        assert torch.backends.cudnn.benchmark == (not before)
    assert torch.backends.cudnn.benchmark == before
    with pytest.raises(KeyboardInterrupt), cudnn_benchmark(not before):
        raise KeyboardInterrupt
    assert torch.backends.cudnn.benchmark == before


def test_an_interrupt_without_a_checkpoint_says_nothing_was_saved(data, monkeypatch):
    def interrupt(self, X, y):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train_step", interrupt)
    with pytest.raises(TrainingInterrupted, match="no checkpoint path was given") as e:
        train_resnet(TINY, "course", SIZES, data=data, **quiet())
    assert not e.value.resumable
    assert e.value._render_traceback_() == [f"TrainingInterrupted: {e.value}"]  # one line in IPython


def test_report_memory_adds_the_resident_memory_to_each_epoch_line(data):
    lines = []
    train_resnet(TINY, "course", SIZES, data=data, report_memory=True, **quiet(log=lines.append))
    assert len(lines) == 2 and all(re.search(r"RSS [\d,]+ MiB \(peak [\d,]+ MiB\)$", x) for x in lines)


def test_resume_without_a_checkpoint_starts_fresh(data, tmp_path):
    lines = []
    settings = SIZES.replace(epochs=1)
    train_resnet(
        TINY,
        "course",
        settings,
        data=data,
        checkpoint=tmp_path / "c.pt",
        resume=True,
        **quiet(log=lines.append),
    )
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


def _output_dtypes(trainer, X, y, steps=1):
    dtypes = []
    hook = trainer.net.fc.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    for _ in range(steps):
        trainer.train_step(X, y)
    hook.remove()
    return dtypes


def test_trainer_steps_in_the_precision_it_is_given(data):
    X, y = next(data.train_batches(8, 28))
    for precision, dtype in [
        (choose_precision("cpu", cpu_bf16=True), torch.bfloat16),
        (choose_precision("cpu", cpu_bf16=False), torch.float32),
    ]:
        trainer = Trainer(build_resnet(TINY), data, "course", SIZES, precision=precision, **quiet())
        assert _output_dtypes(trainer, X, y) == [dtype], precision
        assert trainer._sums[2].item() == 8 and torch.isfinite(trainer._sums[0])


def test_fp16_steps_with_a_grad_scaler(data):
    """The T4/V100 path (fp16 autocast + GradScaler), run on the CPU's fp16 autocast."""
    fp16 = Precision("fp16", torch.float16, True, "test")
    trainer = Trainer(build_resnet(TINY), data, "course", SIZES, precision=fp16, **quiet())
    assert trainer.scaler.is_enabled()
    before = [p.detach().clone() for p in trainer.net.parameters()]
    X, y = next(data.train_batches(16, 28))
    assert _output_dtypes(trainer, X, y, steps=3) == [torch.float16] * 3
    assert math.isfinite(trainer.scaler.get_scale()) and trainer.scaler.get_scale() > 0
    assert torch.isfinite(trainer._sums[0])
    moved = [not torch.equal(a, b) for a, b in zip(before, trainer.net.parameters(), strict=True)]
    assert all(moved[:1]) and sum(moved) > len(moved) // 2  # the scaler unscaled and stepped


@pytest.mark.slow
def test_compile_trains_one_epoch(data):
    result = train_resnet(TINY, "course", SIZES.replace(epochs=1), data=data, compile=True, **quiet())
    assert len(result.history["train_loss"]) == 5 and all(map(math.isfinite, result.history["train_loss"]))
    assert result.test_acc > 0.1


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


class FakeLibc:
    """glibc's mallopt, recorded: returns 1 (done) except for the options in `refuses`."""

    def __init__(self, refuses=()):
        self.calls, self.refuses = [], set(refuses)

    def mallopt(self, option, value):
        self.calls.append((option, value))
        return 0 if option in self.refuses else 1


@pytest.mark.parametrize(
    "refuses,calls,note",
    [
        ((), [(-3, 1 << 30), (-1, -1)], "glibc keeps freed memory (no mmap, no trim)"),
        # an older glibc refuses a threshold above 32 MiB: no mmap at all then
        ((-3,), [(-3, 1 << 30), (-4, 0), (-1, -1)], "glibc keeps freed memory (no mmap, no trim)"),
        ((-3, -4), [(-3, 1 << 30), (-4, 0)], "default (mallopt refused)"),
    ],
)
def test_tune_cpu_allocator_sets_glibc_once(monkeypatch, refuses, calls, note):
    """M_MMAP_THRESHOLD (-3) to 1 GiB, else M_MMAP_MAX (-4) to 0; M_TRIM_THRESHOLD (-1) to -1; once."""
    from resnet_helpers.training import device_data

    libc = FakeLibc(refuses)
    monkeypatch.setattr(device_data, "_ALLOCATOR_NOTE", None)  # as in a fresh process
    monkeypatch.setattr(device_data.sys, "platform", "linux")
    monkeypatch.setattr(device_data.ctypes, "CDLL", lambda name: libc if name == "libc.so.6" else None)
    assert tune_cpu_allocator() == note and libc.calls == calls
    assert tune_cpu_allocator() == note and libc.calls == calls  # a second call changes nothing


def test_tune_cpu_allocator_without_glibc(monkeypatch):
    from resnet_helpers.training import device_data

    def no_glibc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(device_data, "_ALLOCATOR_NOTE", None)
    monkeypatch.setattr(device_data.sys, "platform", "linux")
    monkeypatch.setattr(device_data.ctypes, "CDLL", no_glibc)
    assert tune_cpu_allocator() == "default (not glibc)"
    monkeypatch.setattr(device_data, "_ALLOCATOR_NOTE", None)
    monkeypatch.setattr(device_data.sys, "platform", "darwin")
    assert tune_cpu_allocator() == "default"


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


@pytest.mark.parametrize("total_steps", range(1, 10))
def test_one_cycle_works_for_very_short_runs(total_steps):
    """Regression: OneCycleLR(pct_start=0.25) divided by zero at total_steps=4 (a smoke run of a
    few batches); every length must step through its whole schedule."""
    from resnet_helpers.training.recipes import RECIPES, make_scheduler

    net = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=RECIPES["improved"].lr)
    scheduler = make_scheduler(optimizer, RECIPES["improved"], total_steps)
    for _ in range(total_steps):
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    assert all(math.isfinite(g["lr"]) for g in optimizer.param_groups)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("epochs", 0, "epochs must be a positive integer, got 0."),
        ("epochs", 2.5, "epochs must be a positive integer, got 2.5."),
        ("batch_size", 1, "batch_size must be 2 or more (BatchNorm needs 2 images per batch), got 1."),
        ("resolution", 0, "resolution must be a positive integer, got 0."),
        ("train_size", 1, "train_size must be 2 or more (BatchNorm needs 2 images per batch), got 1."),
        ("train_size", -5, "train_size must be a positive integer, got -5."),
        ("test_size", 0, "test_size must be a positive integer, got 0."),
    ],
)
def test_bad_run_sizes_are_refused_where_they_are_given(data, field, value, message):
    """The command line's checks, for the library: RunSettings, train_resnet's keywords, DeviceData."""
    with pytest.raises(ValueError, match=re.escape(message)):
        RunSettings(**{field: value})
    with pytest.raises(ValueError, match=re.escape(message)):
        train_resnet(TINY, "course", SIZES, data=data, **{field: value}, **quiet())
    if field in ("train_size", "test_size"):  # DeviceData(train_size=-5) trained on 59,995 images
        with pytest.raises(ValueError, match=re.escape(message)):
            DeviceData("cpu", **{field: value})


def test_train_resnet_leaves_the_callers_random_stream_alone(data, tmp_path):
    """Seeded work runs on a fork of the global RNG: after a run, with or without a resume, the
    caller's next random numbers are the ones it would have drawn without the run."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    for resume in (False, True):
        torch.manual_seed(123)
        result = train_resnet(
            TINY,
            "improved",
            SIZES.replace(epochs=1),
            data=data,
            seed=5,
            checkpoint=tmp_path / "r.pt",
            resume=resume,
            **quiet(),
        )
        assert torch.equal(torch.rand(3), expected)
    torch.manual_seed(7)  # a different caller's state: the same seed still gives the same run
    again = train_resnet(TINY, "improved", SIZES.replace(epochs=1), data=data, seed=5, **quiet())
    assert again.history["train_loss"] == result.history["train_loss"]


def test_a_plain_checkpoint_does_not_resume_into_its_residual_twin(data, tmp_path):
    from resnet_helpers.models import remove_shortcuts_

    path = tmp_path / "plain.pt"
    settings = SIZES.replace(epochs=1)
    plain = train_resnet(
        remove_shortcuts_(build_resnet(TINY)), "course", settings, data=data, checkpoint=path, **quiet()
    )
    assert plain.model == "plain-6"
    with pytest.raises(CheckpointError, match=r"plain True -> False.*weights '[0-9a-f]+' -> '[0-9a-f]+'"):
        train_resnet(
            build_resnet(TINY), "course", settings, data=data, checkpoint=path, resume=True, **quiet()
        )


def test_weights_that_do_not_fit_are_a_checkpoint_error(data, tmp_path):
    """A checkpoint whose run config matches but whose weights do not (edited, or from before the
    fingerprint was saved): a CheckpointError naming the file, not load_state_dict's RuntimeError."""
    path = tmp_path / "w.pt"
    settings = SIZES.replace(epochs=1)
    train_resnet(TINY, "course", settings, data=data, checkpoint=path, **quiet())
    state = load_checkpoint(path)
    del state["config"]["weights"], state["config"]["plain"]  # a checkpoint from before they were saved
    save_checkpoint(path, state)
    resumed = train_resnet(TINY, "course", settings, data=data, checkpoint=path, resume=True, **quiet())
    assert resumed.resumed_from == 1  # still resumes
    del state["model"]["fc.bias"]
    save_checkpoint(path, state)
    with pytest.raises(CheckpointError, match=re.escape(f"the weights in {path} do not fit")) as error:
        train_resnet(TINY, "course", settings, data=data, checkpoint=path, resume=True, **quiet())
    assert "fc.bias" in str(error.value) and "\n" not in str(error.value)


def momenta_during_a_run(recipe, data, monkeypatch) -> list[float]:
    """The optimiser's momentum at every step of a short run of `recipe`."""
    seen = []
    step = Trainer.train_step

    def recording_step(self, X, y):
        seen.append(self.optimizer.param_groups[0]["momentum"])
        step(self, X, y)

    monkeypatch.setattr(Trainer, "train_step", recording_step)
    train_resnet(TINY, recipe, SIZES, data=data, **quiet())
    assert len(seen) == SIZES.epochs * data.num_batches(SIZES.batch_size)
    return seen


def test_the_improved_recipe_runs_the_momentum_it_says(data, monkeypatch):
    """Issue 25, bug 2: OneCycleLR's default cycle_momentum=True ran momentum 0.95 -> 0.85 -> 0.95
    while the recipe, its description and the checkpoint's config said 0.9."""
    recipe = RECIPES["improved"]
    seen = momenta_during_a_run(recipe, data, monkeypatch)
    if recipe.cycle_momentum is None:
        assert set(seen) == {recipe.momentum}
        assert f"momentum {recipe.momentum}" in recipe.description
    else:
        low, high = recipe.cycle_momentum
        assert seen[0] == pytest.approx(high) and seen[-1] == pytest.approx(high, abs=0.01)
        assert min(seen) == pytest.approx(low, abs=0.01)
        assert f"momentum {high} -> {low} -> {high}" in recipe.description


def test_a_recipe_that_cycles_momentum_cycles_it_and_saves_the_range(data, monkeypatch, tmp_path):
    cycled = Recipe("cycled", lr=0.1, momentum=0.95, schedule="onecycle", cycle_momentum=(0.8, 0.95))
    seen = momenta_during_a_run(cycled, data, monkeypatch)
    assert seen[0] == pytest.approx(0.95) and min(seen) == pytest.approx(0.8, abs=0.01)
    constant = Recipe("constant", lr=0.1, momentum=0.7, schedule="onecycle")
    assert set(momenta_during_a_run(constant, data, monkeypatch)) == {0.7}
    monkeypatch.undo()
    path = tmp_path / "c.pt"
    train_resnet(TINY, cycled, SIZES.replace(epochs=1), data=data, checkpoint=path, **quiet())
    assert tuple(load_checkpoint(path)["config"]["recipe"]["cycle_momentum"]) == (0.8, 0.95)
    with pytest.raises(ValueError, match=r"momentum=0.9: .* e.g. momentum=0.95"):
        Recipe("says 0.9", lr=0.1, momentum=0.9, schedule="onecycle", cycle_momentum=(0.85, 0.95))
    with pytest.raises(ValueError, match="needs schedule='onecycle'"):
        Recipe("constant lr", lr=0.1, momentum=0.95, cycle_momentum=(0.85, 0.95))


def test_sgd_decays_weights_only():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    optimizer = sgd(net, 0.1, weight_decay=5e-4, nesterov=True)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 5e-4 and {p.ndim for p in decayed["params"]} == {2, 4}
    assert plain["weight_decay"] == 0.0 and {p.ndim for p in plain["params"]} == {1}
    assert decayed["momentum"] == 0.9 and decayed["nesterov"]
    (group,) = sgd(net, 0.05, momentum=0.0).param_groups  # no decay: one group
    assert len(group["params"]) == len(list(net.parameters())) and group["momentum"] == 0.0


def test_the_flops_of_a_plain_twin_are_its_own(data):
    """Issue 25, bug 6: a plain twin's FLOPs were counted from its residual config, charging it for
    the 1x1 projections it does not have. They are counted on the network that was trained."""
    from resnet_helpers.measure import count_flops
    from resnet_helpers.models import remove_shortcuts_

    settings = SIZES.replace(epochs=1)
    residual = train_resnet(TINY, "course", settings, data=data, **quiet())
    plain = train_resnet(remove_shortcuts_(build_resnet(TINY)), "course", settings, data=data, **quiet())
    image = (1, 1, settings.resolution, settings.resolution)
    assert plain.flops_per_image == count_flops(plain.net, image, backward=True)
    assert residual.flops_per_image == count_flops(residual.net, image, backward=True)
    assert 0 < plain.flops_per_image < residual.flops_per_image  # TINY's stage 2 has a projection
