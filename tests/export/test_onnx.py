"""ONNX export: every registered model's encoder and decoder, run in onnxruntime, match PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab.cli import main
from aelab.export.to_onnx import TOLERANCE, export_model
from aelab.models import create_model, list_models

MODELS = [pytest.param(n, marks=pytest.mark.slow) for n in list_models()]  # torch.export takes seconds a model


@pytest.mark.parametrize("name", MODELS)
def test_every_model_exports_and_onnxruntime_matches_pytorch_at_any_batch_size(name, tmp_path):
    import onnxruntime

    model = create_model(name).eval()
    result = export_model(model, tmp_path)
    assert result.max_difference <= TOLERANCE
    x = torch.rand(7, *model.config.input_shape, generator=torch.Generator().manual_seed(1))  # a batch size never exported
    encoder = onnxruntime.InferenceSession(str(result.encoder), providers=["CPUExecutionProvider"])
    decoder = onnxruntime.InferenceSession(str(result.decoder), providers=["CPUExecutionProvider"])
    outputs = encoder.run(None, {"image": x.numpy()})
    code = outputs[0]
    with torch.no_grad():
        np.testing.assert_allclose(code, model.encode(x).numpy(), atol=TOLERANCE)
        if model.capabilities.posterior:  # VAEs: the posterior's log-variances too
            assert [o.name for o in encoder.get_outputs()] == ["code", "logvar"]
            np.testing.assert_allclose(outputs[1], model.encode_distribution(x)[1].numpy(), atol=TOLERANCE)
        np.testing.assert_allclose(decoder.run(None, {"code": code})[0], model.decode(torch.from_numpy(code)).numpy(), atol=TOLERANCE)


@pytest.mark.slow
def test_the_cli_exports_a_run_into_its_onnx_folder(vae_run, capsys):
    assert main(["export", str(vae_run), "--format", "onnx"]) == 0
    assert {p.name for p in (vae_run / "onnx").iterdir()} == {"encoder.onnx", "decoder.onnx"}
    assert "onnxruntime matches PyTorch" in capsys.readouterr().out
