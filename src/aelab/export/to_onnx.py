"""`aelab export RUN --format onnx`: RUN/onnx/encoder.onnx and decoder.onnx, with a dynamic batch axis.

    encoder.onnx   image (B, C, H, W) float32 in [0, 1] -> code (B, *code_shape); VAEs also logvar
    decoder.onnx   code -> image (B, C, H, W) in [0, 1]

Torch's exporter (`torch.onnx.export(dynamo=True)`, opset 18) writes each part, and onnxruntime runs both on a
few test images at two batch sizes: an export whose outputs differ from PyTorch's by more than
TOLERANCE fails instead of leaving a file that computes something else. Every registered model
exports (tests/export/test_onnx.py); winner-take-all encoders export their inference code (the
sparsity masks are training-only).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aelab.errors import AelabError
from aelab.models import Autoencoder
from aelab.run_files import ONNX_DECODER, ONNX_ENCODER

TOLERANCE = 1e-4  # absolute, on images in [0, 1] and codes of order 1: float32 kernels differ in summation order
OPSET = 18
CHECK_BATCHES = (1, 5)  # two batch sizes: the batch axis really is dynamic


class _Encoder(nn.Module):
    """image -> code (what `encode` gives), and for a Gaussian encoder the posterior's logvar too."""

    def __init__(self, model: Autoencoder):
        super().__init__()
        self.model = model
        self.gaussian = model.capabilities.posterior
        with torch.no_grad():  # a code wider than mu (cvae's [mu, one-hot]) is not the mean alone
            probe = torch.zeros(1, *model.config.input_shape)
            self.code_is_mean = self.gaussian and model.encode(probe).shape == model.encode_distribution(probe)[0].shape

    def forward(self, image: torch.Tensor):
        if not self.gaussian:
            return self.model.encode(image)
        mu, logvar = self.model.encode_distribution(image)
        return (mu if self.code_is_mean else self.model.encode(image)), logvar


class _Decoder(nn.Module):
    def __init__(self, model: Autoencoder):
        super().__init__()
        self.model = model

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.model.decode(code)


@dataclass
class OnnxExport:
    encoder: Path
    decoder: Path
    max_difference: float  # largest |onnxruntime - PyTorch| over both parts and the checked batches
    tolerance: float = TOLERANCE


def export_model(model: Autoencoder, folder: str | Path, check_images: torch.Tensor | None = None) -> OnnxExport:
    """Write `model`'s encoder and decoder into `folder` and check them in onnxruntime on
    `check_images` (N, C, H, W) in [0, 1] (random ones by default)."""
    _require()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).cpu().float().eval()
    if check_images is None:
        check_images = torch.rand(max(CHECK_BATCHES), *model.config.input_shape, generator=torch.Generator().manual_seed(0))
    x = check_images[: max(CHECK_BATCHES)].float()
    with torch.no_grad():
        z = model.encode(x)
    encoder = _export(_Encoder(model).eval(), x, folder / ONNX_ENCODER, ["image"], ["code", "logvar"] if model.capabilities.posterior else ["code"])
    decoder = _export(_Decoder(model).eval(), z, folder / ONNX_DECODER, ["code"], ["image"])
    difference = max(_compare(_Encoder(model), encoder, x), _compare(_Decoder(model), decoder, z))
    if not difference <= TOLERANCE:
        raise AelabError(f"the ONNX export of {model.config.name!r} differs from PyTorch by {difference:.3g} (more than {TOLERANCE:g}) "
                         f"in onnxruntime: the files in {folder} are not to be trusted; please report it with the run's config.json.")
    return OnnxExport(encoder, decoder, difference)


def export_onnx(run_dir: str | Path, out: str | Path | None = None) -> OnnxExport:
    """A run's encoder and decoder as ONNX, into `out` (default RUN/onnx), checked on its first test images."""
    from aelab.config import load_config_file
    from aelab.loading import load_model, prepare_data
    from aelab.run_files import RunFiles

    run = RunFiles(Path(run_dir)).require()
    config = load_config_file(run.config)
    _, splits = prepare_data(config.data, config.train.seed)
    images = splits.test.images[: max(CHECK_BATCHES)].float().div(255)
    return export_model(load_model(run.root), out or run.onnx, images if len(images) else None)


def _export(module: nn.Module, example: torch.Tensor, path: Path, inputs: list[str], outputs: list[str]) -> Path:
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(module, (example,), dynamo=True, opset_version=OPSET, input_names=inputs, output_names=outputs,
                                dynamic_shapes=({0: batch},), external_data=False, verbose=False)
    program.save(str(path))
    return path


def _compare(module: nn.Module, path: Path, example: torch.Tensor) -> float:
    """Largest |onnxruntime - PyTorch| over the outputs, at each checked batch size."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in CHECK_BATCHES:
        with torch.no_grad():
            expected = module(example[:n])
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {session.get_inputs()[0].name: example[:n].numpy()})
        for e, g in zip(expected, got):
            if g.shape != tuple(e.shape):
                return float("inf")
            worst = max(worst, float(np.abs(g - e.numpy()).max(initial=0.0)))
    return worst


def _require() -> None:
    import importlib.util

    missing = [p for p in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(p) is None]
    if missing:
        raise AelabError(f"ONNX export needs {', '.join(missing)}: pip install 'aelab[onnx]'.")
