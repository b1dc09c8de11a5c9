"""The scoreboard row of each run: every number from the documents it reads, "—" where a model
has no such number, the prior as sampler only where the model has one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from aelab import make_config, train
from aelab.documents import EvaluationDocument
from aelab.study.scoreboard import COLUMNS, run_row
from tests.conftest import make_blobs_npz


def scores(fid: float) -> dict:
    return {"fid": fid, "precision": 0.5, "recall": 0.25}


class Runner:
    """What `run_row` asks of a study runner, answered from fixed documents."""

    def __init__(self, dirs, seeds=1):
        self.dirs, self.asked, self.seeds = dirs, {}, seeds

    def run_dir(self, run):
        return self.dirs[run.rpartition("/")[2]]

    def replicas(self, run):
        return [run] + [f"seed-{k}/{run}" for k in range(1, self.seeds)]

    def label(self, run):
        return run.upper()

    def evaluate(self, run, params):
        self.asked[run] = params
        vae = run.endswith("vae")
        generation = {"scores": {"reconstructions": scores(1.0), "gmm": scores(2.0), **({"prior": scores(3.0)} if vae else {})}}
        mse = {"ae": 0.0123456, "seed-1/ae": 0.0133456, "seed-2/ae": 0.0143456}.get(run, 0.0123456)
        return EvaluationDocument(split="test", images=10, mse_per_pixel=mse, mse_per_image=9.7, bce_per_pixel=0.2,
                                  bce_per_image=150.0, psnr_db=20.0, elbo=-101.234 if vae else None,
                                  log_px_iwae=-98.765 if vae else None, generation=generation)

    def analysis(self, run):
        knn = SimpleNamespace(numbers={"1nn_on_codes": 0.812345, "linear_probe_on_codes": 0.7}, error=None)
        return SimpleNamespace(entry=lambda name: knn if name == "knn" else None)

    def metrics(self, run):
        return [{"seconds": 2.0}, {"seconds": 4.0}, {"seconds": 100.0}]  # the last: a second stage's epoch (train.epochs is 2)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    data = make_blobs_npz(tmp_path_factory.mktemp("board") / "blobs.npz", n_train=64, n_test=32)
    root = tmp_path_factory.mktemp("runs")
    dirs = {name: train(make_config({"model.name": name, "data.name": str(data), "train.epochs": 2, "train.device": "cpu"}),
                        root / name, progress=False, log=lambda _: None) for name in ("conv-ae", "vae")}
    return Runner({"ae": dirs["conv-ae"], "vae": dirs["vae"]})


def test_each_row_reads_its_documents_and_marks_what_the_model_lacks(runner):
    options = {"nll_samples": 50, "nll_subset": 20}
    names = [name for name, _ in COLUMNS]
    ae = dict(zip(names, run_row(runner, "ae", options)))
    vae = dict(zip(names, run_row(runner, "vae", options)))
    assert ae["run"] == "AE" and ae["model"] == "conv-ae" and ae["test MSE"] == 0.01235
    assert ae["test ELBO"] == ae["log p(x)"] == "—" and ae["sampler"] == "gmm" and ae["FID samples"] == 2.0
    assert vae["test ELBO"] == -101.23 and vae["log p(x)"] == -98.77 and vae["sampler"] == "prior" and vae["FID samples"] == 3.0
    assert ae["FID rec."] == 1.0 and ae["1-NN"] == 0.8123 and ae["linear probe"] == 0.7 and ae["s / epoch"] == 3.0
    assert isinstance(ae["parameters"], int) and ae["parameters"] > 0
    assert "nll_samples" not in runner.asked["ae"] and runner.asked["vae"]["nll_samples"] == 50  # only a likelihood model is asked
    assert runner.asked["ae"]["generation"] is True


def test_with_several_seeds_each_number_is_a_mean_and_a_spread(runner):
    seeded = Runner(runner.dirs, seeds=3)
    row = dict(zip([name for name, _ in COLUMNS], run_row(seeded, "ae", {})))
    assert row["test MSE"] == "0.01335 ± 0.00100"  # mean and sample standard deviation of 0.01235, 0.01335, 0.01435
    assert row["run"] == "AE" and row["sampler"] == "gmm"
    assert isinstance(row["parameters"], int)  # the same for every seed: shown once
    assert row["1-NN"] == 0.8123  # the same value from each seed's (fixed) analysis
    assert set(seeded.asked) == {"ae", "seed-1/ae", "seed-2/ae"}
