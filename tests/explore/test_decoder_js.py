"""decoder.js against PyTorch: every registered model's decoder (and the layer variants the
configs can choose) decodes the same images in Chromium, to TOLERANCE."""

from __future__ import annotations

import json

import pytest
import torch

from aelab.explore.decoder_spec import export_decoder
from aelab.explore.page import page_file
from aelab.models import create_model, list_models
from tests.explore.browser import open_page
from tests.explore.conftest import needs_chromium

pytestmark = [pytest.mark.slow, needs_chromium]
TOLERANCE = 1e-5  # absolute, on decoder outputs of order 1: float32 rounding, summed in another order
VARIANTS = {  # options that change which layers a decoder has
    "conv-ae-interpolate": ("conv-ae", {"upsample": "interpolate", "activation": "leaky-relu"}),
    "conv-ae-elu-tanh": ("conv-ae", {"activation": "elu", "output_activation": "tanh", "kernel_size": 3}),
    "vae-hidden": ("vae", {"hidden": 16, "latent_dim": 3}),
    "mlp-ae-deep": ("mlp-ae", {"encoder_widths": (32, 16), "output_activation": "linear"}),
}
CASES = [(name, name, {}, shape) for name in list_models() for shape in [(1, 28, 28), (3, 12, 10)]]
CASES += [(label, name, options, (1, 28, 28)) for label, (name, options) in VARIANTS.items()]


def case(name: str, options: dict, shape) -> tuple[dict, list, torch.Tensor]:
    torch.manual_seed(0)
    model = create_model(name, input_shape=shape, **options).eval()
    with torch.no_grad():
        codes = model.encode(torch.rand(2, *shape))  # the codes the page holds: sparse ones included
        codes = torch.cat([codes, codes + 0.3 * torch.randn_like(codes)])  # and points between them
        images = model.decode(codes)
    return {"spec": export_decoder(model.decoder).to_json(), "code_shape": list(codes.shape[1:]),
            "codes": codes.flatten(1).tolist()}, images.flatten(1)


def test_javascript_decodes_as_pytorch(tmp_path):
    built = {label: case(name, options, shape) for label, name, options, shape in CASES}
    payload = json.dumps({label: spec for label, (spec, _) in built.items()})
    page = tmp_path / "decoders.html"
    page.write_text(f"<script>{page_file('decoder.js')}\nconst CASES = {payload};\n"
                    "window.results = Object.fromEntries(Object.entries(CASES).map(([k, c]) => "
                    "[k, c.codes.map((z) => Array.from(makeDecoder(c.spec, c.code_shape)(z).data))]));</script>")
    with open_page(page.as_uri()) as browser:
        results = browser.js("window.results")
        assert browser.errors == []
    for label, (_, expected) in built.items():
        got = torch.tensor(results[label])
        assert got.shape == expected.shape, label
        assert (got - expected).abs().max().item() <= TOLERANCE, label
