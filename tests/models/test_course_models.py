"""The course's architectures (seeds 001 and 003) and the WTA autoencoders, beyond the contract."""

import pytest
import torch
from torch import nn

from aelab.errors import ConfigError
from aelab.models import create_model


def layers_of(module, kind):
    return [m for m in module.modules() if isinstance(m, kind)]


def test_seed_001_pooled_ae_has_a_1x2x1_code_clipped_at_zero():
    model = create_model("pooled-conv-ae").eval()
    z = model.encode(torch.rand(5, 1, 28, 28))
    assert z.shape == (5, 1, 2, 1) and (z >= 0).all()
    convs = layers_of(model.encoder, nn.Conv2d)
    assert [c.out_channels for c in convs] == [16, 16, 16, 1]
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in convs)
    assert len(layers_of(model.encoder, nn.MaxPool2d)) == len(convs)  # every conv is followed by pooling
    deconvs = layers_of(model.decoder, nn.ConvTranspose2d)
    assert [d.out_channels for d in deconvs] == [16, 16, 16, 1]
    assert len(layers_of(model.decoder, nn.Upsample)) == len(deconvs)


def test_code_size_is_derived_for_other_inputs():
    model = create_model("pooled-conv-ae", input_shape=(1, 32, 32), code_size=(1, 3), channels=(8, 8, 2))
    assert model.code_shape == (2, 1, 3)
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_unreachable_code_size_is_a_config_error():
    with pytest.raises(ConfigError, match="code_size"):
        create_model("pooled-conv-ae", code_size=(9, 1))
    with pytest.raises(ConfigError, match="downsample='pool'"):
        create_model("conv-ae", code_size=(2, 1))


def test_all_convolutional_has_no_pooling_and_strided_convs():
    model = create_model("all-conv-ae")
    assert not layers_of(model, nn.MaxPool2d) and not layers_of(model, nn.Linear)
    assert all(c.stride == (2, 2) for c in layers_of(model.encoder, nn.Conv2d))
    assert all(c.stride == (2, 2) for c in layers_of(model.decoder, nn.ConvTranspose2d))


def test_fully_convolutional_keeps_the_image_size():
    model = create_model("fully-conv-ae", channels=(4, 3))
    assert model.code_shape == (3, 28, 28)
    assert all(c.stride == (1, 1) for c in layers_of(model, (nn.Conv2d, nn.ConvTranspose2d)))


@pytest.mark.parametrize("output_activation", ["sigmoid", "relu", "linear"])
def test_mlp_output_activation_is_a_plain_option(output_activation):
    model = create_model("mlp-ae", output_activation=output_activation)
    kinds = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "linear": nn.Identity}
    assert isinstance(model.decoder[-2], kinds[output_activation])


def test_mlp_depths_and_widths():
    model = create_model("mlp-ae", encoder_widths=(300, 100), latent_dim=5, decoder_widths=())
    assert [m.out_features for m in layers_of(model.encoder, nn.Linear)] == [300, 100, 5]
    assert [m.out_features for m in layers_of(model.decoder, nn.Linear)] == [784]
    mirrored = create_model("mlp-ae", encoder_widths=(300, 100), latent_dim=5)
    assert [m.out_features for m in layers_of(mirrored.decoder, nn.Linear)] == [100, 300, 784]


def test_fc_wta_loss_uses_lifetime_sparse_codes():
    torch.manual_seed(0)
    model = create_model("fc-wta-ae", latent_dim=50, lifetime_rate=0.1)
    out = model.loss(torch.rand(20, 1, 28, 28))
    assert 0.05 < out.terms["active"].item() <= 0.1  # 2 of 20 per unit (fewer where a winner is 0)
    z = model.encode(torch.rand(20, 1, 28, 28))
    assert z.shape == (20, 50) and (z >= 0).all()  # encode is the dense ReLU code


def test_conv_wta_code_has_one_winner_per_map_and_linear_deconv_decoder():
    torch.manual_seed(0)
    model = create_model("conv-wta-ae", channels=(6,), lifetime_rate=None)
    z = model.encode(torch.rand(3, 1, 28, 28))
    assert z.shape == (3, 6, 28, 28)
    assert ((z != 0).flatten(2).sum(2) <= 1).all()
    (deconv,) = layers_of(model.decoder, nn.ConvTranspose2d)
    assert deconv.kernel_size == (11, 11) and isinstance(model.decoder[-1], nn.Identity)
    assert not model.capabilities.batch_coupled  # winner-take-all per image only


def test_conv_wta_lifetime_sparsity_in_the_loss():
    torch.manual_seed(0)
    model = create_model("conv-wta-ae", channels=(6,), lifetime_rate=0.5)
    out = model.loss(torch.rand(10, 1, 28, 28))
    assert 0 < out.terms["active"].item() <= 5 * 6 / (10 * 6 * 28 * 28)  # 5 of 10 images per map
    assert model.capabilities.batch_coupled  # ranking the batch: never split over threads or processes


def test_conv_wta_features_are_dense_max_pooled_maps():
    model = create_model("conv-wta-ae", channels=(6,), feature_pool=4).eval()
    x = torch.rand(2, 1, 28, 28)
    features = model.feature_extractor()(x)
    assert features.shape == (2, 6 * 7 * 7)
    dense = model.encoder[0](x)
    assert torch.equal(features.view(2, 6, 7, 7)[:, :, 0, 0], dense[:, :, :4, :4].amax((2, 3)))


def test_wta_rate_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="lifetime_rate"):
        create_model("fc-wta-ae", lifetime_rate=5.0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pooled_ae_learns_a_live_code_on_real_mnist(seed, tmp_path):
    """Issue 4: with PyTorch's default start this 2-number ReLU code died in every seed
    (all codes zero, the output one average digit or black); it must learn from any seed."""
    from aelab.config import make_config
    from aelab.loading import load_model, prepare_data
    from aelab.pipeline import train
    from tests.conftest import real_data_dir

    root = real_data_dir()
    if root is None or not any((root / "mnist").glob("t10k-images-idx3-ubyte*")):
        pytest.skip("MNIST test images not found: set AELAB_DATA_DIR to a folder with mnist/ in it")
    config = make_config({"model.name": "pooled-conv-ae", "data.name": "mnist-test-split", "data.data_dir": str(root),
                          "data.train_subset": 4000, "data.test_subset": 500, "train.epochs": 2, "train.seed": seed})
    model = load_model(train(config, tmp_path / "run", progress=False, log=lambda _: None))
    _, splits = prepare_data(config.data, seed)
    x = splits.test.images.float() / 255
    with torch.no_grad():
        codes, mse = model.encode(x).flatten(1), (model(x) - x).pow(2).mean().item()
    mean_image_mse = (x - splits.train.images.float().mean(0) / 255).pow(2).mean().item()
    assert (codes > 0).float().mean(0).min() > 0.5  # both numbers alive for most images
    assert mse < 0.95 * mean_image_mse  # better than drawing the average digit
