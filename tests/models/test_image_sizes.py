"""Every registered model at the sizes own-image folders bring: colour 64x64, 128x128 and sizes the strides do not divide."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from aelab.models import build_model, list_models, model_config_class

SHAPES = [(3, 64, 64), (3, 128, 128), (3, 72, 56)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", list_models())
def test_model_reconstructs_images_of_the_configured_shape(name: str, shape: tuple[int, int, int]):
    config = dataclasses.replace(model_config_class(name)(), input_shape=shape)
    model = build_model(config).eval()
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model(x).shape == x.shape
        assert torch.isfinite(model.loss(x, torch.Generator().manual_seed(0)).total)
