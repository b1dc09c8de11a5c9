"""Studies: every recipe runs end to end with --quick on tiny data, and its report answers
every question in the seed's order; recipes are validated; runs are reused and resumed;
a missing dataset falls back (MNIST) or skips (CIFAR-10) loudly."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from aelab.cli import main
from aelab.data.base import DATASETS
from aelab.data.cifar import CIFAR10, FOLDER, META, TEST_BATCH, TRAIN_BATCHES
from aelab.data.sources import Downloadable
from aelab.documents import StudyDocument
from aelab.errors import ConfigError, DataError
from aelab.models import create_model
from aelab.study import list_studies, load_study, run_study
from aelab.study.evidence import output_size_rows
from tests.conftest import make_blobs_npz, real_data_dir
from tests.data.builders import py2_pickle

CIFAR_PER_BATCH = 16
STUDIES = sorted(list_studies())
QUICKEST_STUDY = "class-mixtures"  # one run: the fast tier (`make test-fast`) runs this one end to end, the rest are slow


def write_cifar_folder(data_dir: Path, monkeypatch, per_batch: int = CIFAR_PER_BATCH) -> Path:
    """An extracted cifar-10-batches-py/ with a few images per batch; 'cifar10' checks these files' md5s."""
    folder = data_dir / "cifar10" / FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate((*TRAIN_BATCHES, TEST_BATCH)):
        batch = {b"batch_label": b"batch %d" % i, b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                 b"data": rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8), b"filenames": [b"x.png"] * per_batch}
        (folder / name).write_bytes(py2_pickle(batch))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / META).write_bytes(py2_pickle({b"label_names": names, b"num_cases_per_batch": per_batch, b"num_vis": 3072}))
    md5s = tuple((p.name, hashlib.md5(p.read_bytes()).hexdigest()) for p in sorted(folder.iterdir()))
    monkeypatch.setitem(DATASETS._entries, "cifar10", Downloadable(dataclasses.replace(CIFAR10, batch_md5=md5s)))
    return data_dir


def quiet_run(name: str, out: Path, **kwargs) -> tuple[Path, list[str]]:
    lines: list[str] = []
    report = run_study(name, quick=True, out=out, download=False, progress=False, log=lines.append, **kwargs)
    return report, lines


def read_study(report: Path) -> StudyDocument:
    return StudyDocument.read(report.with_name("study.json"))


def check_report(report: Path, study) -> StudyDocument:
    data = read_study(report)
    assert [q.title for q in data.questions] == [q.title for q in study.questions]
    html = report.read_text()
    positions = [html.index(f"id='q{i}'") for i in range(1, len(study.questions) + 1)]
    assert positions == sorted(positions)
    for q, block_list in zip(study.questions, (q.blocks for q in data.questions)):
        assert len(block_list) == len(q.evidence)
        for block in block_list:
            assert not block.error and block.status != "failed", (q.title, block)
            for p in block.panels:
                assert not p.error and not p.skipped, (q.title, p)
                for f in p.figures:
                    assert (report.parent / f).is_file()
    return data


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == QUICKEST_STUDY else [pytest.mark.slow]) for n in STUDIES])
def test_every_study_runs_quick_end_to_end_on_tiny_data(name, tmp_path, monkeypatch):
    study = load_study(name)
    npz = make_blobs_npz(tmp_path / "blobs.npz", n_train=192, n_test=48)
    data_dir = write_cifar_folder(tmp_path / "data", monkeypatch)
    report, lines = quiet_run(name, tmp_path / "study", dataset=str(npz), data_dir=str(data_dir))
    data = check_report(report, study)
    assert all(r.status == "trained" and r.terms for r in data.runs)  # each run's metric terms, declared by its model
    assert data.quick and "--quick" in data.command
    assert any(line.startswith("report:") for line in lines[-1].splitlines())


@pytest.fixture
def tiny_recipe(tmp_path) -> Path:
    """A two-run study with an MNIST default (absent here), a fallback and an optional CIFAR-10 part."""
    npz = make_blobs_npz(tmp_path / "blobs.npz", n_train=128, n_test=32)
    path = tmp_path / "tiny.toml"
    path.write_text(f"""
title = "tiny"
seed = "none"
dataset = "mnist"
datasets = ["mnist", "fashion-mnist"]
fallback = "{npz}"
[runs.ae]
set = {{ model = {{ name = "conv-ae", channels = [4, 4], latent_dim = 3 }}, train = {{ epochs = 2 }} }}
[runs.colour]
dataset = "cifar10"
optional = true
set = {{ model = {{ name = "conv-ae", channels = [4, 4], latent_dim = 3 }}, train = {{ epochs = 1 }} }}
[[questions]]
title = "Q one"
evidence = [{{ output_size = [3], run = "ae" }}, {{ epochs = ["seconds", "test_loss"], runs = ["ae", "colour"] }}]
[[questions]]
title = "Q two"
evidence = [{{ analysis = "reconstructions", runs = ["ae", "colour"] }}, {{ compare = "curves", runs = ["ae", "colour"] }}]
[quick]
set = {{ train = {{ batch_size = 32 }} }}
""")
    return path


def test_missing_mnist_falls_back_and_missing_cifar_is_skipped_loudly(tiny_recipe, tmp_path):
    report, lines = quiet_run(str(tiny_recipe), tmp_path / "out", data_dir=str(tmp_path / "empty"))
    data = read_study(report)
    assert data.dataset.endswith("blobs.npz") and data.notes[0].startswith("--data-dir") and "therefore runs on" in data.notes[0]
    assert "cifar10 is not available here" in data.notes[1]
    assert [r.status for r in data.runs] == ["trained", "skipped"]
    epochs = data.questions[0].blocks[1]
    assert epochs.tables[0].columns == ["epoch", "training seconds (s)", "test MSE (mean per pixel)"]  # the model's declared loss term
    html = report.read_text()
    assert html.count("class='warn'") >= 3 and "Skipped:" in html  # quick banner, two notes, the skipped comparison
    assert "This analysis failed" not in html  # a skipped part is not an error
    assert any("is not an existing folder" in line and "This study therefore runs on" in line for line in lines)


def test_runs_are_reused_resumed_and_never_mixed_with_another_config(tiny_recipe, tmp_path):
    out = tmp_path / "out"
    quiet_run(str(tiny_recipe), out, data_dir=str(tmp_path / "empty"))
    (out / "ae" / "reconstructions.png").unlink()  # as if it stopped before its last steps
    metrics = (out / "ae" / "metrics.jsonl").read_text().splitlines()
    report, lines = quiet_run(str(tiny_recipe), out, data_dir=str(tmp_path / "empty"))
    assert read_study(report).runs[0].status == "resumed"
    assert (out / "ae" / "metrics.jsonl").read_text().splitlines() == metrics  # nothing retrained
    report, _ = quiet_run(str(tiny_recipe), out, data_dir=str(tmp_path / "empty"))
    assert read_study(report).runs[0].status == "reused"
    text = tiny_recipe.read_text()
    tiny_recipe.write_text(text.replace("latent_dim = 3 }, train = { epochs = 2", "latent_dim = 4 }, train = { epochs = 2"))
    assert tiny_recipe.read_text() != text  # the recipe now wants another code size for run ae
    with pytest.raises(ConfigError, match="another config"):
        quiet_run(str(tiny_recipe), out, data_dir=str(tmp_path / "empty"))


def test_an_explicit_missing_dataset_fails_naming_the_alternatives(tiny_recipe, tmp_path):
    with pytest.raises(DataError, match=r"instead run with --dataset fashion-mnist\.$"):  # never the one that just failed
        quiet_run(str(tiny_recipe), tmp_path / "out", dataset="mnist", data_dir=str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="only for: mnist, fashion-mnist"):
        quiet_run(str(tiny_recipe), tmp_path / "out", dataset="cifar10")


@pytest.mark.parametrize("change, message", [
    (("title = \"tiny\"", "title = \"tiny\"\ncolour = 1"), "unknown key 'colour'. Valid keys: dataset, datasets"),
    (("[runs.ae]", "[runs.ae]\nepochs = 3"), r"\[runs.ae\]: unknown key 'epochs'. Valid keys: dataset, label, optional, set"),
    (("latent_dim = 3 }, train = { epochs = 2", "latent_dims = 3 }, train = { epochs = 2"), "latent_dims"),
    (("run = \"ae\" }", "run = \"nope\" }"), "unknown run 'nope'. Runs of this study: ae, colour"),
    (("analysis = \"reconstructions\"", "analysis = \"recon\""), "unknown analysis 'recon'"),
    (("output_size = [3], run", "output_size = [3], bins = 3, run"), "evidence 'output_size' has no key 'bins'"),
    (("output_size = [3], run", "evaluate = { nll_sample = 3 }, run"), "evaluate has no option 'nll_sample'. Valid options: batch_size"),
    (("output_size = [3], run", "classify = \"probes\", run"), "classify must be one of"),
    (("[runs.ae]", "[runs.\"../../x\"]"), r"run name '../../x' is used as a folder name"),
    (("[runs.ae]", "[runs.\"a/b\"]"), "run name 'a/b' is used as a folder name"),
    (("[runs.ae]", "[runs.\"\"]"), "run name '' is used as a folder name"),
    (("[runs.ae]", "[runs.\"a..b\"]"), "run name 'a..b'"),
    (("[runs.ae]", "[runs.\".hidden\"]"), "run name '.hidden'"),
    (("[runs.ae]", "[runs.\"caf\u00e9\"]"), "may hold only letters, digits"),
    (("title = \"tiny\"", "title = 3"), "'title' must be a string, got 3"),
    (("[runs.ae]", "[params]\nknn = 3\n[runs.ae]"), r"\[params\]: 'knn' must be a table"),
])
def test_recipe_mistakes_are_errors_that_list_the_valid_choices(tiny_recipe, change, message):
    old, new = change
    text = tiny_recipe.read_text().replace(old, new, 1)
    assert text != tiny_recipe.read_text()
    tiny_recipe.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_study(str(tiny_recipe))


def test_output_size_check_passes_for_seed_004s_network_and_catches_a_wrong_size():
    model = create_model("conv-ae", channels=(32, 32), kernel_size=5, latent_dim=10).eval()
    assert all(row[3] for row in output_size_rows(model, (1, 28, 28), [10]))
    assert not output_size_rows(model, (1, 28, 28), [12])[0][3]
    unbounded = create_model("conv-ae", latent_dim=10, output_activation="linear").eval()
    torch.manual_seed(0)
    assert [row[3] for row in output_size_rows(unbounded, (1, 28, 28), [10])][:2] == [True, True]


def test_cli_lists_the_studies(capsys):
    assert main(["study", "--list"]) == 0
    out = capsys.readouterr().out
    assert "fashion-ae-vs-vae" in STUDIES  # the shipped ones are found (`make run` runs this one)
    assert all(f"aelab study {name}" in out for name in STUDIES)
    assert main(["study"]) == 2 and "aelab study --list" in capsys.readouterr().err


def test_a_users_own_studies_are_found_in_the_current_folders_studies(tiny_recipe, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "mine.toml").write_text(tiny_recipe.read_text())
    assert {"mine", *STUDIES} == set(list_studies())
    assert load_study("mine").title == "tiny"
    with pytest.raises(ConfigError, match="unknown study 'mind'.*mine"):
        load_study("mind")


@pytest.mark.slow
def test_fashion_study_quick_on_real_data(real_fashion_dir, tmp_path):
    report, _ = quiet_run("fashion-ae-vs-vae", tmp_path / "study", data_dir=str(real_fashion_dir))
    data = check_report(report, load_study("fashion-ae-vs-vae"))
    assert data.dataset == "fashion-mnist" and not data.notes


@pytest.mark.slow
def test_mnist_study_quick_falls_back_to_the_official_test_images(tmp_path, monkeypatch):
    root = real_data_dir()
    if root is None or not any((root / "mnist").glob("t10k-images-idx3-ubyte*")):
        pytest.skip("real MNIST test images not found: set AELAB_DATA_DIR to a folder with mnist/ in it")
    if any((root / "mnist").glob("train-images-idx3-ubyte*")):
        pytest.skip("this machine has MNIST's training images: nothing to fall back from")
    monkeypatch.setenv("HOME", str(tmp_path))  # no download cache of the user's
    report, _ = quiet_run("class-mixtures", tmp_path / "study", data_dir=str(root))
    data = check_report(report, load_study("class-mixtures"))
    assert data.dataset == "mnist-test-split" and "first 8,000 train" in data.notes[0]


def test_set_overrides_every_run_or_one_and_is_recorded_in_the_command(tiny_recipe, tmp_path):
    report, _ = quiet_run(str(tiny_recipe), tmp_path / "out", data_dir=str(tmp_path / "empty"),
                          overrides=["train.seed=3", "ae:train.epochs=1"])
    saved = json.loads((tmp_path / "out" / "ae" / "config.json").read_text())
    assert saved["train"]["seed"] == 3 and saved["train"]["epochs"] == 1
    command = read_study(report).command
    assert "--set train.seed=3" in command and "--set ae:train.epochs=1" in command
    with pytest.raises(ConfigError, match="no run 'vae'. Its runs: ae, colour"):
        quiet_run(str(tiny_recipe), tmp_path / "other", data_dir=str(tmp_path / "empty"), overrides=["vae:train.seed=1"])
    with pytest.raises(ConfigError, match="did you mean 'train.seed'"):
        quiet_run(str(tiny_recipe), tmp_path / "other", data_dir=str(tmp_path / "empty"), overrides=["train.sed=1"])


@pytest.mark.slow
def test_seeds_repeat_the_scoreboards_runs_and_give_mean_and_spread(tmp_path):
    npz = make_blobs_npz(tmp_path / "blobs.npz", n_train=128, n_test=32)
    recipe = tmp_path / "board.toml"
    recipe.write_text(f"""
title = "board"
seed = "none"
dataset = "{npz}"
[runs.ae]
set = {{ model = {{ name = "conv-ae", channels = [4, 4], latent_dim = 3 }}, train = {{ epochs = 1, batch_size = 32 }} }}
[runs.other]
set = {{ model = {{ name = "conv-ae", channels = [4, 4], latent_dim = 2 }}, train = {{ epochs = 1, batch_size = 32 }} }}
[[questions]]
title = "side by side"
evidence = [{{ analysis = "knn", runs = ["ae"] }}, {{ scoreboard = {{}}, runs = ["ae"] }}]
""")
    report, lines = quiet_run(str(recipe), tmp_path / "out", seeds=3)
    data = read_study(report)
    assert data.seeds == 3 and "--seeds 3" in data.command
    ae = next(r for r in data.runs if r.name == "ae")
    assert ae.replicas == ["seed-1/ae", "seed-2/ae"] and next(r for r in data.runs if r.name == "other").replicas == []
    assert [json.loads((tmp_path / "out" / f / "config.json").read_text())["train"]["seed"] for f in ("ae", *ae.replicas)] == [0, 1, 2]
    table = data.questions[0].blocks[1].tables[0]
    row = dict(zip(table.columns, table.rows[0]))
    assert row["run"] == "ae" and " ± " in row["test MSE"] and " ± " in row["1-NN"]
    mean, spread = map(float, row["test MSE"].split(" ± "))
    errors = [json.loads((tmp_path / "out" / f / "evaluation.json").read_text())["mse_per_pixel"] for f in ("ae", *ae.replicas)]
    assert mean == pytest.approx(np.mean(errors), abs=1e-5) and spread == pytest.approx(np.std(errors, ddof=1), abs=1e-5)
    _, again = quiet_run(str(recipe), tmp_path / "out", seeds=3)
    assert sum("finished earlier, reused" in line for line in again) == 4  # ae, its two copies, other
    with pytest.raises(ConfigError, match="--seeds must be a whole number of 1 or more"):
        quiet_run(str(recipe), tmp_path / "out", seeds=0)


def test_seeds_need_a_study_with_a_scoreboard(tiny_recipe, tmp_path):
    with pytest.raises(ConfigError, match="has no table that gives each number's mean and spread"):
        quiet_run(str(tiny_recipe), tmp_path / "out", data_dir=str(tmp_path / "empty"), seeds=2)
