"""Every registered model's decoder exports to ops the page runs; other layers are refused
with the way out (--serve)."""

from __future__ import annotations

import pytest
from torch import nn

from aelab.explore.decoder_spec import UnsupportedLayer, export_decoder
from aelab.models import create_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_every_registered_decoder_exports(name):
    spec = export_decoder(create_model(name, input_shape=(1, 28, 28)).decoder)
    assert spec.ops and spec.weight_bytes > 0
    decoder = create_model(name, input_shape=(1, 28, 28)).decoder
    n_params = sum(p.numel() for p in decoder.parameters())
    assert spec.weight_bytes == 4 * n_params  # every parameter, as float32, once


def test_an_unknown_layer_names_the_way_out():
    with pytest.raises(UnsupportedLayer, match="--serve") as err:
        export_decoder(nn.Sequential(nn.Linear(2, 4), nn.GELU()))
    assert "GELU" in str(err.value)


def test_a_subclass_is_not_assumed_to_compute_the_same():
    class Doubled(nn.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

    with pytest.raises(UnsupportedLayer, match="Doubled"):
        export_decoder(nn.Sequential(Doubled(2, 4)))


def test_upsampling_other_than_nearest_is_refused():
    with pytest.raises(UnsupportedLayer, match="nearest"):
        export_decoder(nn.Sequential(nn.Upsample(size=(4, 4), mode="bilinear")))
