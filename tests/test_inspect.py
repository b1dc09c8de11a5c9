"""Looking inside models: filters, decoder atoms and feature maps have the right shapes and values."""

import pytest
import torch

from aelab.errors import ConfigError
from aelab.inspect import (
    decoder_atoms,
    feature_maps,
    first_layer_filters,
    maps_grid,
    normalise_each,
    save_grid,
    tiles_grid,
)
from aelab.models import create_model


def test_conv_filters_are_the_first_kernels_scaled_each():
    model = create_model("all-conv-ae", channels=(6, 4), kernel_size=5)
    filters = first_layer_filters(model)
    assert filters.shape == (6, 1, 5, 5)
    assert torch.allclose(filters.flatten(1).amin(1), torch.zeros(6)) and torch.allclose(filters.flatten(1).amax(1), torch.ones(6))
    kernel = model.encoder[0].weight.detach()[2]
    assert torch.allclose(filters[2], (kernel - kernel.min()) / (kernel.max() - kernel.min()))


def test_dense_first_layer_rows_are_images():
    model = create_model("mlp-ae", encoder_widths=(), latent_dim=7)
    assert first_layer_filters(model).shape == (7, 1, 28, 28)


def test_single_layer_decoder_rows_are_28x28_images():
    model = create_model("mlp-ae", encoder_widths=(64,), latent_dim=9, decoder_widths=())
    atoms = decoder_atoms(model)
    assert atoms.shape == (9, 1, 28, 28)
    column = model.decoder[0].weight.detach()[:, 3].view(28, 28)  # what code unit 3 adds to the image
    assert torch.allclose(atoms[3, 0], (column - column.min()) / (column.max() - column.min()))


def test_conv_wta_atoms_are_its_deconvolution_filters():
    assert decoder_atoms(create_model("conv-wta-ae", channels=(5,))).shape == (5, 1, 11, 11)


def test_deep_decoder_has_no_atoms():
    with pytest.raises(ConfigError, match="exactly one"):
        decoder_atoms(create_model("mlp-ae"))


def test_feature_maps_follow_each_conv_layer():
    model = create_model("pooled-conv-ae").train()
    image = torch.rand(1, 28, 28)
    maps = feature_maps(model, image)
    shapes = [tuple(m.shape) for _, m in maps]
    assert shapes == [(16, 28, 28), (16, 14, 14), (16, 7, 7), (1, 4, 4), (16, 4, 4), (16, 7, 7), (16, 14, 14), (1, 28, 28)]
    assert maps[0][0] == "encoder.1" and model.training  # mode restored
    assert torch.allclose(maps[-1][1], model.eval()(image.unsqueeze(0))[0])  # the last map is the reconstruction


def test_feature_maps_show_wta_sparsity():
    model = create_model("conv-wta-ae", channels=(4,))
    maps = dict(feature_maps(model, torch.rand(1, 28, 28)))
    assert ((maps["encoder.1"] != 0).flatten(1).sum(1) <= 1).all()


def test_grids_and_png(tmp_path):
    filters = first_layer_filters(create_model("conv-ae", channels=(8, 8), kernel_size=3))
    grid = tiles_grid(filters, ncols=4, scale=1)
    assert grid.shape == (2 * 3 + 1, 4 * 3 + 3) and grid.dtype.name == "uint8"
    assert maps_grid(torch.rand(3, 5, 5), ncols=3, scale=1).shape == (5, 17)
    assert save_grid(grid, tmp_path / "f.png").stat().st_size > 0


def test_flat_tiles_become_grey():
    assert torch.equal(normalise_each(torch.ones(2, 1, 3, 3)), torch.full((2, 1, 3, 3), 0.5))
