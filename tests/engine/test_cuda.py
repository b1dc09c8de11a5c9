"""The CUDA path: steps in each precision, data cut into batches on the GPU, and a whole run."""

from __future__ import annotations

import pytest
import torch

import aelab
from aelab.engine import Step
from aelab.models import create_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible to this torch build)")


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_a_step_on_the_gpu_matches_the_cpu_step(precision):
    torch.manual_seed(0)
    cpu_model = create_model("conv-ae", channels=(8, 8), latent_dim=4)
    gpu_model = create_model("conv-ae", channels=(8, 8), latent_dim=4).cuda()
    gpu_model.load_state_dict(cpu_model.state_dict())
    x = torch.rand(32, 1, 28, 28)
    a = Step(cpu_model, torch.optim.SGD(cpu_model.parameters(), lr=0.1))(x)["loss"]
    b = Step(gpu_model, torch.optim.SGD(gpu_model.parameters(), lr=0.1), precision)(x.cuda())["loss"]
    assert abs(a - b.cpu()) < (1e-4 if precision == "fp32" else 0.02 * a)


def test_a_run_trains_on_the_gpu(blobs_npz, tmp_path):
    config = aelab.make_config({"data.name": str(blobs_npz), "train.epochs": 2, "train.device": "cuda", "train.precision": "bf16",
                                "model.channels": [8, 8]})
    run = aelab.train(config, tmp_path / "run", progress=False, log=lambda s: None)
    rows = run.joinpath("metrics.jsonl").read_text().splitlines()
    assert len(rows) == 2
    assert aelab.evaluate(run, device="cuda").mse_per_pixel < 0.2
