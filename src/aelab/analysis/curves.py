"""2. Training curves from the run's metrics.jsonl (loss per epoch, and its terms)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import MaxNLocator

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import RUN_COLOURS, figure
from aelab.analysis.needs import Needs

SPLITS = ("train", "val", "test")
WIDTH = 6.5  # inches: every run's curves figure is as wide, so side by side their text is the same size
TERM_NAMES = {"rec": "reconstruction", "kl": "KL", "nelbo": "−ELBO", "mse": "MSE", "bce": "BCE", "mmd": "MMD", "active": "active share"}


def loss_terms(history: list[dict]) -> list[str]:
    """Names of the loss terms logged besides the total, e.g. ['kl', 'rec']; a term that is the
    total itself (an AE's 'mse', a VAE's 'nelbo' at beta = 1) is left out: it would repeat it."""
    keys = {k.split("_", 1)[1] for row in history for k in row if k.startswith(("val_", "test_"))} - {"loss"}
    return sorted(k for k in keys if not same_as_loss(history, k))


def same_as_loss(history: list[dict], term: str) -> bool:
    pairs = [(r[f"{s}_{term}"], r[f"{s}_loss"]) for r in history for s in SPLITS if f"{s}_{term}" in r and f"{s}_loss" in r]
    return bool(pairs) and all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12) for a, b in pairs)


def loss_name(history: list[dict]) -> str:
    """What the run's loss is, for an axis: '−ELBO (nats per image)' or 'MSE per pixel'."""
    terms = {k.split("_", 1)[1] for row in history for k in row if "_" in k}
    if "nelbo" in terms:
        return "loss: −ELBO (nats per image)"
    named = [t for t in terms if t in ("mse", "bce")]
    return f"loss: {TERM_NAMES[named[0]]} per pixel" if named else "loss"


def series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in history if r.get(key) is not None]
    return [r["epoch"] for r in rows], [r[key] for r in rows]


def held_out(history: list[dict]) -> str:
    return "val" if any("val_loss" in r for r in history) else "test"


@register_analysis
class TrainingCurves(Analysis):
    name, title, order = "curves", "Training curves", 20
    note = ("Training and held-out loss per epoch: a held-out curve that turns up while training keeps falling "
            "is overfitting; two curves still falling at the end mean more epochs would help.")
    needs = Needs(history=True)

    def run(self, ctx) -> AnalysisResult:
        history = ctx.run.read_metrics()
        terms = loss_terms(history)
        two = len(terms) > 1
        fig = figure(WIDTH, 6.6 if two else 3.8)
        axes = fig.subplots(2 if two else 1, 1, squeeze=False)[:, 0]
        for split in SPLITS:
            epochs, values = series(history, f"{split}_loss")
            if values:
                axes[0].plot(epochs, values, marker="o", ms=4, label=split)
        style(axes[0], f"{loss_name(history)}, what training minimises")
        if two:
            prefix = held_out(history)
            for term in terms:
                axes[1].plot(*series(history, f"{prefix}_{term}"), marker="o", ms=4, label=TERM_NAMES.get(term, term))
            style(axes[1], f"its terms ({prefix} split)")
        last, held = history[-1], held_out(history)
        numbers = {"epochs": last["epoch"], "training_seconds": sum(r.get("seconds", 0.0) for r in history),
                   "last_train_loss": last.get("train_loss"), f"last_{held}_loss": last.get(f"{held}_loss")}
        # the rest of the last epoch is the table's last row, and in metrics.jsonl
        epochs, val = series(history, "val_loss")
        if val:
            numbers["best_val_epoch"] = epochs[min(range(len(val)), key=val.__getitem__)]
        mse = float(ctx.test_errors.double().mean()) if len(ctx.test) else None
        return AnalysisResult(numbers, [("curves", fig)], [epoch_table(history)], {"history": history, "test_mse": mse})

    def combine(self, results):
        """One loss axis when every run minimises the same loss; otherwise each run's loss in its own
        panel (an MSE of 0.01 and an ELBO of 240 share no scale), and beside them what every run
        shares: the test reconstruction error, measured the same way for all."""
        if len(results) < 2:
            return []
        histories = [r.data["history"] for _, r in results]
        if all(loss_terms(h) == loss_terms(histories[0]) for h in histories):
            fig = figure(7.5, 4.2)
            ax = fig.add_subplot()
            for i, (label, history) in enumerate(zip((lbl for lbl, _ in results), histories)):
                draw_run(ax, history, label, RUN_COLOURS[i % len(RUN_COLOURS)])
            ax.set_yscale("log")
            style(ax, f"{loss_name(histories[0])} (log scale), per epoch")
            return [("curves", fig)]
        cols = min(len(results) + 1, 3)
        rows = -(-(len(results) + 1) // cols)
        fig = figure(3.9 * cols, 3.5 * rows)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for i, ((label, result), ax) in enumerate(zip(results, axes)):
            draw_run(ax, result.data["history"], "", RUN_COLOURS[i % len(RUN_COLOURS)])
            style(ax, f"{label}\n{loss_name(result.data['history'])}")
        shared_error_bars(axes[len(results)], [(label, r.data.get("test_mse")) for label, r in results])
        for ax in axes[len(results) + 1:]:
            ax.set_visible(False)
        return [("curves", fig)]


def draw_run(ax, history: list[dict], label: str, colour) -> None:
    prefix = f"{label} " if label else ""
    ax.plot(*series(history, "train_loss"), ls="--", color=colour, label=f"{prefix}train")
    held = held_out(history)
    ax.plot(*series(history, f"{held}_loss"), marker="o", ms=4, color=colour, label=f"{prefix}{held}")


def shared_error_bars(ax, runs: list[tuple[str, float | None]]) -> None:
    """The same measure for every run: MSE per pixel of each test image's reconstruction."""
    names = [label for label, _ in runs]
    values = [np.nan if v is None else v for _, v in runs]
    ax.bar(range(len(runs)), values, color=[RUN_COLOURS[i % len(RUN_COLOURS)] for i in range(len(runs))])
    ax.set_xticks(range(len(runs)), names, rotation=20 if max(map(len, names)) > 8 else 0, ha="right" if max(map(len, names)) > 8 else "center", fontsize=8)
    for i, v in enumerate(values):
        if np.isfinite(v):
            ax.annotate(f"{v:.4f}", (i, v), ha="center", va="bottom", fontsize=8)
    ax.set_title("shared measure, after training:\ntest reconstruction MSE per pixel", fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def epoch_table(history: list[dict]) -> Table:
    """Epoch, each split's loss, the held-out terms, seconds: every column labelled for a reader."""
    prefix = held_out(history)
    keys = [f"{s}_loss" for s in SPLITS if any(f"{s}_loss" in r for r in history)]
    keys += [f"{prefix}_{t}" for t in loss_terms(history)]
    labels = [column_label(key) for key in keys]
    rows = [[r["epoch"], *(fmt(r.get(k)) for k in keys), "" if r.get("seconds") is None else f"{r['seconds']:.2f}"] for r in history]
    return Table("Metrics per epoch", ["epoch", *labels, "seconds"], rows)


def column_label(key: str) -> str:
    """'test_kl' -> 'test KL', 'train_loss' -> 'train loss'."""
    split, _, term = key.partition("_")
    return f"{split} {TERM_NAMES.get(term, term)}"


def style(ax, title: str) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=9)
    ax.legend(frameon=False, fontsize=9)


def fmt(value) -> str:
    return "" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value)
