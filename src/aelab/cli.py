"""The `aelab` command: argument parsing and error display, nothing else.

Each subcommand calls the same functions as the Python API. An `AelabError`
is shown as one short paragraph and exit status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
from typing import Sequence

from aelab.errors import AelabError


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# Flags that are shortcuts for config keys (`--set` reaches every key).
CONFIG_FLAGS = {
    "model": ("model.name", str, "registered model name (see `aelab models`)"),
    "dataset": ("data.name", str, "dataset name or a path to an image folder / .npz (see `aelab datasets`)"),
    "data_dir": ("data.data_dir", str, "folder holding the dataset files"),
    "latent_dim": ("model.latent_dim", int, "size of the code"),
    "epochs": ("train.epochs", int, "number of epochs"),
    "batch_size": ("train.batch_size", int, "images per training step"),
    "lr": ("train.lr", float, "Adam learning rate"),
    "lr_schedule": ("train.lr_schedule", str, "constant, cosine or one-cycle (peaking at --lr)"),
    "seed": ("train.seed", int, "seed for initialisation, shuffling and the validation split"),
    "device": ("train.device", str, "auto, cpu, cuda, cuda:N or mps"),
    "log": ("train.log", comma_list, "experiment trackers, comma-separated: tensorboard, mlflow (pip install 'aelab[tensorboard]', ...)"),
}
RESUME_FLAGS = ("epochs", "device")  # what may change when a run is resumed: neither alters its result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aelab", description="Train, evaluate and look inside autoencoders on images.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model into a run folder, or resume one")
    train.add_argument("--config", metavar="RECIPE.toml", help="TOML recipe whose values override the defaults")
    for dest, (key, kind, text) in CONFIG_FLAGS.items():
        train.add_argument(f"--{dest.replace('_', '-')}", dest=dest, type=kind, help=f"{text} ({key})")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key, e.g. model.channels=[16,32]")
    train.add_argument("--out", help="run folder to create (default runs/<model>-<dataset>-<time>)")
    train.add_argument("--resume", metavar="RUN", help="continue RUN from its last finished epoch (--epochs may extend it)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = sub.add_parser("evaluate", help="test-set reconstruction metrics of a run")
    evaluate.add_argument("run", metavar="RUN")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--batch-size", type=int, default=1000)
    evaluate.add_argument("--nll-samples", type=int, metavar="K", help="also estimate log p(x) by importance sampling with K samples (VAEs)")
    evaluate.add_argument("--nll-subset", type=int, metavar="N", help="estimate it on the first N test images only")
    evaluate.add_argument("--generation", action="store_true", help="also FID, KID, precision/recall, density/coverage of reconstructions and samples")
    evaluate.add_argument("--generation-images", type=int, default=10_000, metavar="N", help="images per scored set (default 10000, at most the test split)")

    classify = sub.add_parser("classify", help="train a classifier from a run's encoder (probe, fine-tune or from scratch)")
    classify.add_argument("run", metavar="RUN")
    mode = classify.add_mutually_exclusive_group()
    mode.add_argument("--freeze", dest="mode", action="store_const", const="probe", help="freeze the encoder: a linear probe")
    mode.add_argument("--fine-tune", dest="mode", action="store_const", const="fine-tune", help="train encoder and head (default)")
    mode.add_argument("--from-scratch", dest="mode", action="store_const", const="scratch", help="same network from random weights, same budget")
    classify.add_argument("--replace-last", action="store_true", help="drop the encoder's last weighted layer (seed 001, exercise 4)")
    classify.add_argument("--epochs", type=int, default=5)
    classify.add_argument("--batch-size", type=int, default=128)
    classify.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    classify.add_argument("--seed", type=int, default=0)
    classify.add_argument("--device", default="auto")
    classify.add_argument("--no-progress", action="store_true", help="no progress bar")

    encode = sub.add_parser("encode", help="a split's codes, labels and class names as one .npz (posterior means and log-variances for VAEs)")
    encode.add_argument("run", metavar="RUN")
    encode.add_argument("--split", choices=["train", "val", "test", "all"], default="test", help="the run's own split (default test)")
    encode.add_argument("--out", help="the .npz to write (default RUN/codes-SPLIT.npz)")
    encode.add_argument("--device", default="cpu")

    export = sub.add_parser("export", help="the encoder and decoder as ONNX files, or the test codes for TensorBoard's Embedding Projector")
    export.add_argument("run", metavar="RUN")
    export.add_argument("--format", choices=["onnx", "projector"], required=True,
                        help="onnx: RUN/onnx/{encoder,decoder}.onnx, checked in onnxruntime; projector: RUN/tensorboard/ for `tensorboard --logdir RUN`")
    export.add_argument("--out", help="folder to write into (default RUN/onnx or RUN/tensorboard)")
    export.add_argument("--points", type=int, default=10000, help="projector: test images shown (default 10000)")

    datasets = sub.add_parser("datasets", help="list datasets and where their files were found")
    datasets.add_argument("--data-dir", help="also look in this folder")

    sub.add_parser("models", help="list the registered models and their options")

    sub.add_parser("analyses", help="list the registered analyses and their parameters")

    analyze = sub.add_parser("analyze", help="every analysis that fits a run: PNGs, analysis.json and report.html in the run folder")
    analyze.add_argument("run", metavar="RUN")
    add_analysis_options(analyze)

    compare = sub.add_parser("compare", help="the same analyses of several runs side by side in one report")
    compare.add_argument("runs", metavar="RUN", nargs="+")
    compare.add_argument("--out", required=True, help="folder for the comparison's report.html, comparison.json and PNGs")
    compare.add_argument("--labels", help="comma-separated names of the runs (default: their folder names)")
    add_analysis_options(compare)
    study = sub.add_parser("study", help="run a study (a shipped one, ./studies/NAME.toml or a path to a recipe) end to end into one report")
    study.add_argument("name", metavar="NAME", nargs="?", help="study name (see --list) or a path to a study recipe")
    study.add_argument("--list", action="store_true", help="list the studies")
    study.add_argument("--quick", action="store_true", help="few epochs on a subset: checks that the study runs, in a minute or two")
    study.add_argument("--dataset", help="swap the study's dataset (where the study allows it; also a .npz file or an image folder)")
    study.add_argument("--data-dir", help="folder holding the dataset files")
    study.add_argument("--out", help="study folder (default runs/study-NAME[-DATASET][-quick])")
    study.add_argument("--no-download", action="store_true", help="never download: use only local files")
    study.add_argument("--device", default="auto")
    study.add_argument("--set", action="append", default=[], metavar="[RUN:]KEY=VALUE",
                       help="override a config key in every run, or in one run: train.seed=1, vae:train.epochs=50")
    study.add_argument("--no-progress", action="store_true", help="no progress bars")
    study.add_argument("--seeds", type=int, default=1, metavar="N",
                       help="train the runs the study's comparison table cites N times (train.seed, +1, ...): each number "
                            "becomes its mean ± standard deviation (families)")

    explore = sub.add_parser("explore", help="an interactive latent-space explorer: one self-contained HTML page (or --serve)")
    explore.add_argument("runs", metavar="RUN", nargs="+", help="a run folder, or two to show side by side")
    explore.add_argument("--out", help="the page to write (default RUN/explore.html)")
    explore.add_argument("--map", choices=["auto", "pca", "tsne"], default="auto", help="the map: auto is the code itself when 2-D, else PCA")
    explore.add_argument("--points", type=int, default=10000, help="test images on the map (default 10000)")
    explore.add_argument("--train-points", type=int, default=2000, help="training images searched for the nearest ones (default 2000)")
    explore.add_argument("--serve", action="store_true", help="serve on 127.0.0.1 and decode in Python (decoders the page cannot run)")
    explore.add_argument("--port", type=int, default=0, help="port for --serve (default: any free one)")
    explore.add_argument("--device", default="cpu")
    return parser


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", help="comma-separated analyses to run (see `aelab analyses`)")
    parser.add_argument("--skip", help="comma-separated analyses to leave out")
    parser.add_argument("--param", action="append", default=[], metavar="ANALYSIS.KEY=VALUE",
                        help="an analysis parameter, e.g. knn.k=10 or latent_map.tsne_count=2000")
    parser.add_argument("--tsne-count", type=int, help="test codes embedded by t-SNE (latent_map.tsne_count, default 1000)")
    parser.add_argument("--device", default="auto")


class Terminated(Exception):
    """SIGTERM, as torchrun sends to every rank when one of them has died."""


def _terminated(signum, frame):
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    as_rank = int(os.environ.get("WORLD_SIZE", "1")) > 1  # a torchrun rank: a stop by the launcher is explained, not traced
    if as_rank:
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return COMMANDS[args.command](args)
    except AelabError as err:
        text = str(err).encode("utf-8", "backslashreplace").decode("utf-8")  # paths that are not UTF-8 print too
        print(f"aelab: error: {textwrap.fill(text, 100, subsequent_indent='  ', break_on_hyphens=False, break_long_words=False)}", file=sys.stderr)
        return 2
    except Terminated:
        print("aelab: stopped by torchrun (another training process ended). Finished epochs are kept: run the same "
              "torchrun command with `aelab train --resume RUN` to continue.", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("aelab: interrupted. Finished epochs are kept: `aelab train --resume RUN` continues from the last one "
              "(or starts the run again where none had finished).", file=sys.stderr)
        return 130
    finally:
        if as_rank:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a SIGTERM while the interpreter shuts down just ends it


def cmd_train(args: argparse.Namespace) -> int:
    from aelab import pipeline
    from aelab.config import make_config, parse_assignment, read_recipe

    progress = not args.no_progress
    if args.resume:
        changing = [f"--{k.replace('_', '-')}" for k in CONFIG_FLAGS if k not in RESUME_FLAGS and getattr(args, k) is not None]
        changing += ["--set"] * bool(args.set) + ["--config"] * bool(args.config) + ["--out"] * bool(args.out)
        if changing:
            raise AelabError(
                f"--resume continues a run with its own config.json, and {changing[0]} would change its result: "
                "only --epochs (to train it further) and --device may be given with --resume. "
                "To train with other settings, start a new run with another --out."
            )
        pipeline.resume(args.resume, epochs=args.epochs, device=args.device, progress=progress)
        return 0
    overrides = read_recipe(args.config) if args.config else {}
    for dest, (key, _, _) in CONFIG_FLAGS.items():
        if getattr(args, dest) is not None:
            overrides[key] = getattr(args, dest)
    overrides.update(parse_assignment(item) for item in args.set)
    pipeline.train(make_config(overrides), args.out, progress=progress)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from aelab import pipeline
    from aelab.generation import GenerationConfig, format_scores

    generation = GenerationConfig(count=args.generation_images) if args.generation else False
    metrics = pipeline.evaluate(args.run, device=args.device, batch_size=args.batch_size,
                                nll_samples=args.nll_samples, nll_subset=args.nll_subset, generation=generation)
    scores = metrics.generation
    for key, value in metrics.numbers().items():
        print(f"{key:>14}  {value:.6g}" if isinstance(value, float) else f"{key:>14}  {value}")
    print("psnr_db is the mean over test images of each image's PSNR (peak 1), not the PSNR of the mean MSE")
    if metrics.log_px_iwae is not None:
        print(f"test log p(x) >= {metrics.log_px_iwae:.2f} nats per image (IWAE bound, K = {metrics.nll_samples} samples, "
              f"first {metrics.nll_images:,} test images, binarised: {metrics.nll_binarize}); ELBO {metrics.elbo:.2f} on the same images")
    if scores:
        print(format_scores(scores))
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from aelab.classify import ClassifyConfig, classify

    cfg = ClassifyConfig(mode=args.mode or "fine-tune", replace_last=args.replace_last, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device)
    summary = classify(args.run, cfg, progress=not args.no_progress)
    print(f"test accuracy {summary.test_accuracy:.2%} after {cfg.epochs} epochs: {args.run}/{cfg.folder_name}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aelab.codes import encode
    from aelab.run_files import RunFiles

    codes = encode(args.run, args.split, device=args.device)
    path = codes.save(args.out or RunFiles(Path(args.run)).codes(args.split))
    print(f"wrote {path}: {codes.codes.shape[0]:,} codes of {codes.codes.shape[1]} numbers" + (" (+ log-variances)" if codes.logvar is not None else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "onnx":
        from aelab.export.to_onnx import export_onnx

        result = export_onnx(args.run, args.out)
        print(f"wrote {result.encoder} and {result.decoder}: onnxruntime matches PyTorch to {result.max_difference:.2g} (tolerance {result.tolerance:g})")
    else:
        from aelab.export.projector import export_projector

        folder = export_projector(args.run, args.out, points=args.points)
        print(f"wrote the Embedding Projector's files to {folder}: `tensorboard --logdir {folder}`, then the Projector tab")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from aelab.data import dataset_status, list_datasets

    for name in list_datasets():
        status = dataset_status(name, args.data_dir)
        if status.found:
            print(f"{name:<17} found    {status.location}")
        else:
            detail = textwrap.indent(textwrap.fill(status.detail.replace("\n", " "), 96, break_on_hyphens=False), " " * 4)
            print(f"{name:<17} missing\n{detail}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import dataclasses

    from aelab.models import list_models, model_config_class

    for name in list_models():
        config = model_config_class(name)()
        options = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "name"}
        print(f"{name}\n  {json.dumps(options)}")
    return 0


def analysis_options(args: argparse.Namespace) -> dict:
    from aelab.config import parse_assignment

    params: dict[str, dict] = {}
    for item in args.param:
        key, value = parse_assignment(item)
        name, dot, option = key.partition(".")
        if not dot:
            raise AelabError(f"--param expects ANALYSIS.KEY=VALUE (e.g. knn.k=10), got {item!r}.")
        params.setdefault(name, {})[option] = value
    if args.tsne_count is not None:
        params.setdefault("latent_map", {})["tsne_count"] = args.tsne_count
    names = lambda text: [n.strip() for n in text.split(",") if n.strip()] if text else None  # noqa: E731
    return {"only": names(args.only), "skip": names(args.skip), "params": params, "device": args.device}


def cmd_analyses(args: argparse.Namespace) -> int:
    from aelab.analysis import ordered_analyses

    for analysis in ordered_analyses():
        print(f"{analysis.name:<16} {analysis.title}\n  {json.dumps(analysis.defaults())}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from aelab.analysis import analyze

    failed = sorted(analyze(args.run, **analysis_options(args)).errors)  # this call's, not those kept from before
    if failed:
        print(f"aelab: {len(failed)} analysis(es) failed: {', '.join(failed)} (see the report)", file=sys.stderr)
    return 1 if failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from aelab.analysis.compare import compare

    labels = [n.strip() for n in args.labels.split(",")] if args.labels else None
    from aelab.documents import ComparisonDocument
    from aelab.run_files import COMPARISON_JSON

    report = compare(args.runs, args.out, labels=labels, **analysis_options(args))
    return failed_status(ComparisonDocument.read(report.with_name(COMPARISON_JSON)).failed())


def failed_status(failed: list[str]) -> int:
    """1 when any analysis failed (each failure is shown in the report and was logged), else 0."""
    if failed:
        print(f"aelab: {len(failed)} analysis(es) failed: {', '.join(failed)} (see the report)", file=sys.stderr)
    return 1 if failed else 0


def cmd_study(args: argparse.Namespace) -> int:
    from aelab.study import list_studies, load_study, run_study

    if args.list:
        for name in list_studies():
            study = load_study(name)
            print(f"{name:<24} {study.title}\n  aelab study {name}   (seed {study.seed}; runs: {', '.join(study.runs)})")
        return 0
    if not args.name:
        raise AelabError("name a study (`aelab study --list` shows them), e.g. `aelab study fashion-ae-vs-vae --quick`.")
    run_study(args.name, quick=args.quick, dataset=args.dataset, data_dir=args.data_dir, out=args.out,
              download=not args.no_download, device=args.device, progress=not args.no_progress, overrides=args.set, seeds=args.seeds)
    return 0


def cmd_explore(args: argparse.Namespace) -> int:
    from aelab.explore import ExploreOptions, write_page

    options = ExploreOptions(points=args.points, train_points=args.train_points, map=args.map, device=args.device)
    if not args.serve:
        print(f"wrote {write_page(args.runs, args.out, options)}: open it in a browser (it needs no server)")
        return 0
    from aelab.explore.server import make_server

    server = make_server(args.runs, options, args.port)
    print(f"aelab explore: open {server.url} (Ctrl-C stops it; it writes no files)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "classify": cmd_classify, "encode": cmd_encode, "export": cmd_export,
            "datasets": cmd_datasets, "models": cmd_models,
            "analyses": cmd_analyses, "analyze": cmd_analyze, "compare": cmd_compare, "study": cmd_study,
            "explore": cmd_explore}

if __name__ == "__main__":
    sys.exit(main())
