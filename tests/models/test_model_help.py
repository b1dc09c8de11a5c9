"""`help()` on a model says what each option means; `help(aelab.create_model)` maps the course's names."""

from __future__ import annotations

import dataclasses

import pytest

import aelab
from aelab.models import list_models, model_config_class
from aelab.models.registry import MODELS


@pytest.mark.parametrize("name", list_models())
def test_each_model_class_lists_every_option_with_its_default(name):
    doc = MODELS.get(name).__doc__
    assert doc.splitlines()[0].strip()  # the model's own description comes first
    for field in dataclasses.fields(model_config_class(name)):
        if field.name != "name":
            assert f"\n    {field.name} = " in doc


def test_options_carry_their_comment_and_choices():
    doc = MODELS.get("vae").__doc__
    assert "beta = 1.0  # weight of the KL term; 1 is the ELBO" in doc
    assert "likelihood = 'bernoulli'  # one of 'bernoulli', 'gaussian'" in doc


def test_create_model_maps_the_course_names():
    doc = aelab.create_model.__doc__
    assert "channels=(Q1, Q2)" in doc and "K (the code's size)" in doc and "latent_dim" in doc
