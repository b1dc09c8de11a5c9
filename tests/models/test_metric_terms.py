"""Every number a model's loss logs is declared by its `metric_terms()`, so reports label and
sign it from the run's documents instead of guessing from the key."""

from __future__ import annotations

import pytest
import torch

from aelab.models import create_model, list_models
from aelab.terms import LOSS, find_term, term_title

VARIANTS = [("conv-ae", {"loss": "bce"}), ("sparse-ae", {"penalty": "kl"}), ("vae", {"beta": 4.0})]


@pytest.mark.parametrize(("name", "options"), [(n, {}) for n in list_models()] + VARIANTS, ids=str)
def test_every_logged_term_is_declared_once(name, options):
    torch.manual_seed(0)
    model = create_model(name, input_shape=(1, 28, 28), **options)
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    logged = set(model.batch_loss(x, y).terms) | set(model.eval().batch_loss(x, y).terms)  # training and held-out passes
    declared = [t.key for t in model.metric_terms()]
    assert len(declared) == len(set(declared)), declared
    assert {LOSS, *logged} == set(declared), f"{name} logs {sorted(logged)} but declares {declared}"
    assert all(t.label and t.sign in (1, -1) for t in model.metric_terms())


def test_a_vae_declares_its_negative_elbo_as_the_elbo_negated_in_nats():
    terms = create_model("vae").metric_terms()
    split, nelbo = find_term("val_nelbo", terms)
    assert split == "val" and nelbo.shown(95.5) == -95.5
    assert term_title("val_nelbo", terms) == "validation ELBO (nats per image)"
    assert term_title("test_loss", terms) == "test negative ELBO (nats per image)"
    assert term_title("test_loss", create_model("vae", beta=4.0).metric_terms()).startswith("test beta-VAE objective (beta=4)")


def test_a_plain_autoencoder_names_its_reconstruction_error():
    assert term_title("train_loss", create_model("conv-ae", loss="bce").metric_terms()) == "train BCE (mean per pixel)"
    assert find_term("train_seconds", create_model("conv-ae").metric_terms()) is None  # not a loss term
