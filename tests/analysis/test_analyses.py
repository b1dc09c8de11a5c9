"""Every registered analysis on tiny trained runs with (B, K), (B, 2) and feature-map codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.neighbors import KNeighborsClassifier

from aelab.analysis import ANALYSES, ordered_analyses
from aelab.analysis.class_means import class_means
from aelab.analysis.interpolation import line
from aelab.analysis.knn import knn_predict
from aelab.analysis.runner import jsonable, skip_reason

FAST = {"latent_map": {"tsne_count": 60}, "knn": {"pixel_train": 200, "pixel_test": 50, "probe_max_iter": 50}}


def run(ctx, name, **params):
    return ANALYSES.get(name).run(ctx, **(FAST.get(name, {}) | params))


@pytest.mark.parametrize("code", ["vector", "plane", "map"])
@pytest.mark.parametrize("name", [a.name for a in ordered_analyses()])
def test_every_analysis_gives_json_numbers_and_figures(contexts, code, name):
    ctx = contexts[code]
    analysis = ANALYSES.get(name)
    if skip_reason(analysis, ctx):  # only for what a conv AE does not declare (its own tests: test_codebook.py, ...)
        assert analysis.needs.model_unmet(ctx.model.capabilities) == skip_reason(analysis, ctx)
        return
    result = run(ctx, name)
    json.dumps(jsonable(result.numbers), allow_nan=False)
    assert result.figures, f"{name} drew nothing"
    for fig_name, fig in result.figures:
        assert isinstance(fig, Figure) and fig_name.isidentifier()


def test_codes_are_flat_whatever_the_code_shape(contexts):
    ctx = contexts["map"]
    assert len(ctx.code_shape) == 3 and ctx.test_codes.shape == (len(ctx.test), ctx.code_dim)
    assert ctx.decode(ctx.test_codes[:3]).shape == (3, *ctx.image_shape)


def test_one_nn_on_separable_blobs_is_near_perfect_and_chance_is_one_in_k(contexts):
    numbers = run(contexts["vector"], "knn").numbers
    assert numbers["chance"] == pytest.approx(1 / 4)
    assert numbers["1nn_on_codes"] > 0.9
    assert set(numbers["per_class_1nn_codes"]) == set(contexts["vector"].class_names)
    assert numbers["linear_probe_on_pixels"] > 0.9 and numbers["1nn_on_pixels"] > 0.9  # the squares lie apart in pixels too
    assert numbers["pixel_images"] == "first 200 training and first 50 test images"  # FAST's subset, as stated
    assert run(contexts["vector"], "knn", pixel_train=None, pixel_test=None).numbers["pixel_images"] == "the same images as the codes"


@pytest.mark.parametrize("dim", [2, 20])  # k-d tree and brute-force paths
@pytest.mark.parametrize("k", [1, 5])
def test_torch_knn_matches_scikit_learn(k, dim):
    gen = torch.Generator().manual_seed(k)
    train, test = torch.randn(500, dim, generator=gen), torch.randn(200, dim, generator=gen)
    labels = torch.randint(0, 4, (500,), generator=gen)
    expected = KNeighborsClassifier(k, algorithm="brute").fit(train.numpy(), labels.numpy()).predict(test.numpy())
    assert (knn_predict(train, labels, test, k).numpy() == expected).mean() > 0.99  # ties may break differently


def test_plane_code_is_drawn_as_itself(contexts):
    ctx = contexts["plane"]
    numbers = run(ctx, "latent_map").numbers
    assert numbers["z_min"] == pytest.approx(ctx.test_codes.min(0).values.tolist())
    assert len(numbers["fraction_at_zero"]) == 2


def test_decoder_grid_shares_the_scatter_axes_and_spans_the_observed_range(contexts):
    ctx = contexts["plane"]
    result = run(ctx, "decoder_grid", size=5)
    scatter, grid = result.figures[0][1].axes[:2]
    assert scatter.get_xlim() == grid.get_xlim() and scatter.get_ylim() == grid.get_ylim()
    extent = grid.images[0].get_extent()
    assert (extent[0], extent[1]) == pytest.approx(grid.get_xlim())
    assert result.numbers["u_range"] == pytest.approx([ctx.test_codes[:, 0].min().item(), ctx.test_codes[:, 0].max().item()])
    assert result.numbers["fraction_of_test_codes_inside"] == 1.0


def test_higher_dimensional_codes_use_principal_directions_or_chosen_dims(contexts):
    ctx = contexts["vector"]
    assert "principal" in run(ctx, "decoder_grid", size=3).numbers["plane"]
    assert "dimensions 2 and 4" in run(ctx, "decoder_grid", size=3, dims=[1, 3]).numbers["plane"]


def test_vae_like_models_cover_their_codes_and_get_samples(variational_context):
    ctx = variational_context
    assert ctx.variational
    numbers = run(ctx, "decoder_grid", size=3).numbers  # where the codes are, not the prior's 5%..95%
    assert numbers["fraction_of_test_codes_inside"] == 1.0 and "smallest to largest" in numbers["range_source"]
    assert skip_reason(ANALYSES.get("prior_samples"), ctx) is None
    numbers = run(ctx, "prior_samples", n=9).numbers
    assert numbers["samples"] == 9 and numbers["diversity"] > 0


def test_class_means_are_the_mean_code_of_each_class(contexts):
    ctx = contexts["vector"]
    numbers = run(ctx, "class_means").numbers
    for c, name in enumerate(ctx.class_names):
        expected = ctx.test_codes[ctx.test.labels == c].mean(0)
        assert numbers["class_mean_codes"][name] == pytest.approx(expected.tolist(), abs=1e-5)
    assert torch.allclose(class_means(ctx.test_codes, ctx.test.labels, ctx.n_classes)[0], ctx.test_codes[ctx.test.labels == 0].mean(0), atol=1e-6)


def test_interpolation_line_starts_and_ends_at_the_codes():
    a, b = torch.zeros(3), torch.tensor([1.0, 2.0, 3.0])
    path = line(a, b, 5)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b) and torch.allclose(path[2], (a + b) / 2)


def test_traversals_walk_the_chosen_dimensions(contexts):
    numbers = run(contexts["map"], "traversals", max_dims=3).numbers
    assert len(numbers["dims"]) == 3 and set(numbers["pixel_change"]) == {f"z{d}" for d in numbers["dims"]}


def test_summary_counts_every_parameter_and_follows_the_shapes(contexts):
    ctx = contexts["vector"]
    result = run(ctx, "summary")
    assert result.numbers["parameters"] == sum(p.numel() for p in ctx.model.parameters())
    assert result.numbers["encoder_parameters"] + result.numbers["decoder_parameters"] == result.numbers["parameters"]
    rows = result.tables[0].rows
    assert rows[-2][3] == "×".join(map(str, ctx.image_shape))  # the last layer gives back an image


def test_filters_show_the_first_convolution_and_every_feature_map(contexts):
    ctx = contexts["map"]
    numbers = run(ctx, "filters").numbers
    assert numbers["first_layer"]["kind"] == "convolution" and numbers["first_layer"]["weight_shape"][:2] == [4, 1]
    assert len(numbers["feature_map_shapes"]) == 4  # after two convolutions in, two transposed out
    assert all(0 <= v <= 1 for v in numbers["dead_channel_fraction"].values())


def test_filters_show_a_single_layer_decoder_as_images(tmp_path):
    from aelab.analysis import ANALYSES
    from aelab.models import create_model

    model = create_model("mlp-ae", encoder_widths=(16,), latent_dim=3, decoder_widths=())
    ctx = type("Ctx", (), {"model": model, "image_shape": (1, 28, 28), "test_images": lambda self, i: torch.rand(8, 1, 28, 28)})()
    result = ANALYSES.get("filters").run(ctx)
    assert result.numbers["first_layer"]["kind"] == "dense layer" and result.numbers["decoder_atoms"] == 3
    assert [name for name, _ in result.figures] == ["first_filters", "decoder_atoms"]  # no maps in an MLP


def test_reconstruction_error_per_class_averages_the_per_image_errors(contexts):
    ctx = contexts["vector"]
    numbers = run(ctx, "reconstructions", n=8).numbers
    errors, labels = ctx.test_errors.numpy(), ctx.test.labels.numpy()
    for c, name in enumerate(ctx.class_names):
        assert numbers["mse_per_class"][name] == pytest.approx(errors[labels == c].mean(), rel=1e-5)
    assert numbers["test_mse_per_pixel"] == pytest.approx(float(np.mean(errors)), rel=1e-5)


def test_class_examples_show_the_first_training_image_of_each_class(contexts):
    from aelab.analysis.interpolation import first_of_each_class

    assert first_of_each_class(torch.tensor([2, 0, 2, 1, 0]), 4) == {2: 0, 0: 1, 1: 3}
    ctx = contexts["vector"]
    numbers = run(ctx, "class_examples").numbers
    labels = ctx.train.labels.tolist()
    assert numbers["first_index_per_class"] == {name: labels.index(c) for c, name in enumerate(ctx.class_names)}
    assert sum(numbers["train_per_class"].values()) == len(ctx.train)
