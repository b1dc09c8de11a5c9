"""Prior samples: a class-conditional model also draws a row of samples for each class."""

from __future__ import annotations

import pytest

from aelab import make_config, train
from aelab.analysis import ANALYSES
from aelab.analysis.context import AnalysisContext
from tests.conftest import make_blobs_npz


@pytest.fixture(scope="module")
def cvae_context(tmp_path_factory):
    data = make_blobs_npz(tmp_path_factory.mktemp("cvae") / "blobs.npz", n_train=96, n_test=40)
    config = make_config({"model.name": "cvae", "model.classes": 4, "data.name": str(data), "train.epochs": 1,
                          "train.batch_size": 32, "train.device": "cpu"})
    return AnalysisContext(train(config, tmp_path_factory.mktemp("runs") / "cvae", progress=False, log=lambda _: None), device="cpu")


def test_a_conditional_model_gets_a_row_of_samples_for_each_class(cvae_context, monkeypatch):
    asked = []
    sample = cvae_context.model.sample
    monkeypatch.setattr(cvae_context.model, "sample", lambda n, generator=None, label=None: asked.append((n, label)) or sample(n, generator, label))
    result = ANALYSES.get("prior_samples").run(cvae_context, n=4, per_class=3)
    assert [name for name, _ in result.figures] == ["samples", "per_class"] and result.numbers["samples_per_class"] == 3
    assert asked[1:] == [(3, c) for c in range(cvae_context.n_classes)]  # after the unconditional grid, one call a class
