import pytest
import torch

from resnet_helpers import choose_precision, environment_report, get_profile


def test_profile_from_env(monkeypatch):
    monkeypatch.setenv("RESNET_PROFILE", "smoke")
    P = get_profile()
    assert P.name == "smoke" and P.pick(smoke=1, cpu=2, full=3) == 1
    assert get_profile("FULL").pick(smoke=1, cpu=2, full=3) == 3


@pytest.mark.parametrize("device,expected", [("cuda", "full"), ("mps", "cpu"), ("cpu", "cpu")])
def test_default_profile_by_device(monkeypatch, device, expected):
    from resnet_helpers import profiles

    monkeypatch.delenv("RESNET_PROFILE", raising=False)
    monkeypatch.setattr(profiles, "choose_device", lambda: torch.device(device))
    assert get_profile().name == expected


def test_bad_profile(monkeypatch):
    monkeypatch.setenv("RESNET_PROFILE", "fast")
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        get_profile()


@pytest.mark.parametrize(
    "capability,name,scaler",
    [
        ((9, 0), "bf16", False),
        ((8, 0), "bf16", False),
        ((8, 6), "bf16", False),
        ((7, 5), "fp16", True),
        ((7, 0), "fp16", True),
        ((6, 0), "fp32", False),
    ],
)
def test_gpu_precision(capability, name, scaler):
    p = choose_precision("cuda", cuda_capability=capability)
    assert (p.name, p.use_grad_scaler) == (name, scaler)


def test_cpu_precision():
    assert choose_precision("cpu", cpu_bf16=True).dtype == torch.bfloat16
    assert choose_precision("cpu", cpu_bf16=False).dtype is None


def test_environment_report(monkeypatch):
    monkeypatch.setenv("RESNET_PROFILE", "smoke")
    line = environment_report()
    for word in ("torch", "torchvision", "device", "precision", "profile smoke", "RESNET_PROFILE"):
        assert word in line
    versions, device, profile = line.split("\n")  # three short lines: none wraps on a saved page
    assert versions.startswith("Python ") and device.startswith("device ")
    assert profile.startswith("profile smoke")
    assert all(len(part) <= 100 for part in (versions, profile))


@pytest.mark.parametrize(
    "device,expected",
    [("cuda", ["cuda:cuda"]), ("cuda:1", ["cuda:cuda:1"]), ("mps", ["mps"]), ("cpu", []), ("meta", [])],
)
def test_synchronize_waits_for_the_right_device(monkeypatch, device, expected):
    """CUDA waits for the device named, MPS for Apple's GPU (it has one), the CPU for nothing."""
    from resnet_helpers.profiles import synchronize

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: calls.append(f"cuda:{d}"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    synchronize(device)
    synchronize(torch.device(device))
    assert calls == expected * 2


def test_synchronize_refuses_a_device_it_cannot_wait_for():
    from resnet_helpers.profiles import synchronize

    with pytest.raises(ValueError, match="cuda, mps and cpu, not 'xpu'"):
        synchronize("xpu")


@pytest.mark.parametrize(
    "device,kwargs", [("cpu", {"cpu_bf16": True}), ("cuda", {"cuda_capability": (9, 0)})]
)
def test_resnet_precision_fp32_turns_autocast_off(monkeypatch, device, kwargs):
    """RESNET_PRECISION=fp32 trains as a CPU or GPU without bf16 would (timings on a student's laptop)."""
    monkeypatch.setenv("RESNET_PRECISION", "fp32")
    p = choose_precision(device, **kwargs)
    assert (p.name, p.dtype, p.use_grad_scaler) == ("fp32", None, False)
    assert "RESNET_PRECISION" in p.reason
    monkeypatch.setenv("RESNET_PRECISION", "auto")
    assert choose_precision(device, **kwargs).name == "bf16"


def test_bad_resnet_precision_names_the_value_and_the_fix(monkeypatch):
    monkeypatch.setenv("RESNET_PRECISION", "fp8")
    with pytest.raises(ValueError, match=r"'fp8'.*fp32.*auto"):
        choose_precision("cpu", cpu_bf16=True)
