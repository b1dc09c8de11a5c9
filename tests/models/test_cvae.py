"""The CVAE: labels reach its loss through every step, and its samples follow the class asked for."""

from __future__ import annotations

import pytest
import torch

from aelab.engine import Step, ThreadSplitStep
from aelab.errors import ConfigError, DataError
from aelab.likelihood import require_vae
from aelab.models import create_model


def cvae(**options):
    torch.manual_seed(0)
    return create_model("cvae", channels=(4, 8), latent_dim=2, classes=3, binarize="static", **options)


def test_the_label_conditions_both_networks_and_the_code_carries_it():
    model = cvae(label_dropout=0.0).eval()
    x = torch.rand(4, 1, 28, 28)
    a = model.loss(x, torch.Generator().manual_seed(0), torch.tensor([0, 0, 0, 0]))
    b = model.loss(x, torch.Generator().manual_seed(0), torch.tensor([1, 1, 1, 1]))
    assert not torch.equal(a.total, b.total)
    torch.testing.assert_close(model.batch_loss(x, torch.tensor([1, 1, 1, 1]), torch.Generator().manual_seed(0)).total, b.total)
    code = model.encode(x)  # no labels: "no class"
    assert code.shape == (4, 2 + 3) and torch.equal(code[:, 2:], torch.zeros(4, 3))
    assert model.capabilities.labels and model.capabilities.sample and not model.capabilities.likelihood


def test_every_step_passes_each_image_its_own_label():
    x, y = torch.rand(32, 1, 28, 28), torch.randint(3, (32,))
    x[:, 0, 0, 0] = torch.arange(32) / 32  # each image tagged by its index, to find its label again
    for kind, options in ((Step, {}), (ThreadSplitStep, {"parts": 2})):
        model = cvae(label_dropout=0.0)
        step = kind(model, torch.optim.SGD(model.parameters(), lr=0.0), **options)
        seen = {}
        original = model.loss

        def spy(images, g=None, labels=None, seen=seen, original=original):
            seen.update(zip((images[:, 0, 0, 0] * 32).round().long().tolist(), labels.tolist()))
            return original(images, g, labels)

        model.loss = spy  # type: ignore[method-assign]
        step(x, torch.Generator().manual_seed(0), 1.0, y)
        step.close()
        assert seen == dict(enumerate(y.tolist())), kind.__name__


def test_samples_follow_the_requested_class():
    model = cvae(label_dropout=0.0)
    x = torch.zeros(16, 1, 28, 28)
    x[8:, :, :, 14:] = 1  # class 0: black; class 1: right half white
    y = torch.tensor([0] * 8 + [1] * 8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        out = model.loss(x, None, y)
        optimizer.zero_grad()
        out.total.backward()
        optimizer.step()
    g = torch.Generator().manual_seed(0)
    black, half = model.sample(8, g, label=0), model.sample(8, g, label=1)
    right = lambda images: images[..., 14:].mean().item()  # noqa: E731
    assert right(half) - right(black) > 0.25, (right(half), right(black))


def test_bad_labels_and_the_likelihood_estimate_are_refused_clearly():
    with pytest.raises(DataError, match="model.classes"):
        cvae().loss(torch.rand(2, 1, 28, 28), None, torch.tensor([0, 7]))
    with pytest.raises(ConfigError, match="log p\\(x\\|y\\)"):
        require_vae(cvae())
