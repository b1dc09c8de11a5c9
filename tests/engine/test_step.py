"""The step strategies: the thread split is the whole-batch step, noise comes from the
generator it is given, precision options, and the host is left as it was found."""

from __future__ import annotations

import copy
import os

import pytest
import torch

from aelab.config import TrainConfig
from aelab.engine import Step, ThreadSplitStep, World, cpu_cores, host_settings, make_step
from aelab.engine.threads import auto_parts
from aelab.errors import ConfigError
from aelab.models import create_model


def twins(name: str = "conv-ae", **options):
    torch.manual_seed(0)
    model = create_model(name, **options)
    twin = copy.deepcopy(model)
    return model, torch.optim.SGD(model.parameters(), lr=0.1), twin, torch.optim.SGD(twin.parameters(), lr=0.1)


def assert_same_parameters(a: torch.nn.Module, b: torch.nn.Module, **tolerance) -> None:
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(q, p, **tolerance)


@pytest.mark.parametrize("parts", [2, 3])
def test_thread_split_update_equals_the_whole_batch_update(parts):
    model, opt, twin, twin_opt = twins(channels=(8, 8), latent_dim=4)
    before = [p.detach().clone() for p in model.parameters()]
    plain, split = Step(model, opt), ThreadSplitStep(twin, twin_opt, parts)
    x = torch.rand(30, 1, 28, 28)  # unequal parts when cut in 3 or 4
    a, b = plain(x), split(x)
    split.close()
    torch.testing.assert_close(b["loss"], a["loss"], rtol=1e-5, atol=1e-7)
    assert_same_parameters(model, twin, rtol=1e-5, atol=1e-6)
    assert all(not torch.equal(p0, p) for p0, p in zip(before, model.parameters()))  # the step did update


def test_a_weight_scales_the_gradient_as_a_share_of_the_global_batch():
    """Under DDP a rank's slice is `weight` of the batch: half the weight, half the update (SGD)."""
    model, opt, twin, twin_opt = twins(channels=(8, 8), latent_dim=4)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.rand(16, 1, 28, 28)
    Step(model, opt)(x, weight=1.0)
    Step(twin, twin_opt)(x, weight=0.5)
    for p0, p, q in zip(before, model.parameters(), twin.parameters()):
        torch.testing.assert_close(q - p0, (p - p0) / 2, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("parts", [1, 2])
def test_noise_comes_from_the_generator_given(parts):
    """A VAE draws eps and its dynamic binarisation from the step's generator: the same seed,
    the same losses; another seed, others; the global RNG plays no part."""
    x = torch.rand(32, 1, 28, 28)

    def losses(seed: int) -> list[float]:
        torch.manual_seed(0)
        model = create_model("vae", latent_dim=2)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        step = ThreadSplitStep(model, opt, parts) if parts > 1 else Step(model, opt)
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(12345 + seed * 7)  # scramble the global RNG: it must not matter
        out = [step(x, generator)["loss"].item() for _ in range(3)]
        step.close()
        return out

    assert losses(1) == losses(1)
    assert losses(1) != losses(2)


def test_models_whose_loss_couples_the_batch_are_never_split():
    assert auto_parts(create_model("conv-ae"), 64, cores=2) == 2
    for name in ("mmd-vae", "fc-wta-ae", "conv-wta-ae"):
        assert auto_parts(create_model(name), 64, cores=2) == 1, name
    assert auto_parts(create_model("conv-wta-ae", lifetime_rate=None), 64, cores=2) == 2
    assert auto_parts(create_model("conv-ae"), 8, cores=2) == 1  # parts would be too small to pay off


def test_batch_coupled_models_are_refused_under_ddp_with_the_alternative():
    model = create_model("mmd-vae")
    with pytest.raises(ConfigError, match="mmd-vae.*without torchrun"):
        make_step(model, torch.optim.SGD(model.parameters(), lr=0.1), TrainConfig(), World(rank=0, size=2))
    model = create_model("conv-ae")
    with pytest.raises(ConfigError, match="train.shards"):
        make_step(model, torch.optim.SGD(model.parameters(), lr=0.1), TrainConfig(shards=2), World(rank=0, size=2))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_steps_stay_close_to_fp32(precision):
    x = torch.rand(32, 1, 28, 28)
    model, opt, twin, twin_opt = twins(channels=(8, 8), latent_dim=4)
    a = Step(model, opt)(x)["loss"]
    low = Step(twin, twin_opt, precision)
    b = low(x)["loss"]
    assert a != b and abs(a - b) < 0.02 * a  # really ran in lower precision, and stayed within 2%
    assert all(p.dtype == torch.float32 for p in twin.parameters())  # master weights stay fp32
    assert_same_parameters(model, twin, rtol=0.05, atol=2e-3)
    assert bool(low.state_dict()) == (precision == "fp16")  # the gradient scale is resumable state


def test_thread_count_is_restored_after_training_and_after_a_pass():
    before = torch.get_num_threads()
    model, opt, _, _ = twins(channels=(8, 8), latent_dim=4)
    step = ThreadSplitStep(model, opt, 2)
    with host_settings(torch.device("cpu")):
        torch.set_num_threads(before + 1)
        with step.training_pass():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == before + 1
    step.close()
    assert torch.get_num_threads() == before


def test_cpu_cores_fall_back_where_the_os_lacks_the_call(monkeypatch):
    """macOS and Windows have no sched_getaffinity; Python < 3.13 has no process_cpu_count."""
    assert cpu_cores() >= 1
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert cpu_cores() == 7
    model = create_model("conv-ae")
    step = make_step(model, torch.optim.SGD(model.parameters(), lr=0.1), TrainConfig(batch_size=256), World())
    assert isinstance(step, ThreadSplitStep) and step.parts == 7  # the default path still runs
    step.close()
