"""2. Training curves from the run's metrics.jsonl (loss per epoch, and its terms), each number
labelled and signed as the run's model declares it (`Autoencoder.metric_terms()`)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import MaxNLocator

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import RUN_COLOURS, figure
from aelab.analysis.needs import Needs
from aelab.plots import mark_second_stage
from aelab.terms import LOSS, SPLITS, MetricTerm, metric_key, term_named

WIDTH = 6.5  # inches: every run's curves figure is as wide, so side by side their text is the same size


def loss_terms(history: list[dict], terms: list[MetricTerm]) -> list[MetricTerm]:
    """The declared terms logged besides the total on a held-out split, in the model's order; a
    term that is the total itself (an AE's 'mse', a VAE's 'nelbo' at beta = 1) is left out: it
    would repeat it."""
    logged = {k for row in history for k in row}
    return [t for t in terms if t.key != LOSS and {metric_key("val", t.key), metric_key("test", t.key)} & logged
            and not same_as_loss(history, t.key)]


def same_as_loss(history: list[dict], term: str) -> bool:
    keys = [(metric_key(s, term), metric_key(s, LOSS)) for s in SPLITS]
    pairs = [(r[a], r[b]) for r in history for a, b in keys if a in r and b in r]
    return bool(pairs) and all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12) for a, b in pairs)


def loss_name(terms: list[MetricTerm]) -> str:
    """What the run's loss is, for an axis: 'loss: negative ELBO (nats per image)', 'loss: MSE (mean per pixel)'."""
    return f"loss: {term_named(terms, LOSS).title}"


def series(history: list[dict], key: str, term: MetricTerm | None = None) -> tuple[list[int], list[float]]:
    """(epochs, values) of one column, the values as `term` shows them (sign applied)."""
    rows = [r for r in history if r.get(key) is not None]
    return [r["epoch"] for r in rows], [term.shown(r[key]) if term else r[key] for r in rows]


def held_out(history: list[dict]) -> str:
    return "val" if any(metric_key("val", LOSS) in r for r in history) else "test"


@register_analysis
class TrainingCurves(Analysis):
    name, title, order = "curves", "Training curves", 20
    note = ("Training and held-out loss per epoch: a held-out curve that turns up while training keeps falling "
            "is overfitting; two curves still falling at the end mean more epochs would help.")
    needs = Needs(history=True)

    def run(self, ctx) -> AnalysisResult:
        history = ctx.run.read_metrics()
        declared = list(ctx.model.metric_terms())
        terms = loss_terms(history, declared)
        two = len(terms) > 1
        fig = figure(WIDTH, 6.6 if two else 3.8)
        axes = fig.subplots(2 if two else 1, 1, squeeze=False)[:, 0]
        for split in SPLITS:
            epochs, values = series(history, metric_key(split, LOSS))
            if values:
                axes[0].plot(epochs, values, marker="o", ms=4, label=split)
        second = ctx.config.train.epochs if ctx.config.model.second_stage_epochs() else None
        for ax in axes:
            mark_second_stage(ax, second)
        style(axes[0], f"{loss_name(declared)}, what training minimises")
        if two:
            prefix = held_out(history)
            for term in terms:
                axes[1].plot(*series(history, metric_key(prefix, term.key), term), marker="o", ms=4, label=term.label)
            style(axes[1], f"its terms ({SPLITS[prefix]} split)")
        last, held = history[-1], held_out(history)
        numbers = {"epochs": last["epoch"], "training_seconds": sum(r.get("seconds", 0.0) for r in history),
                   "last_train_loss": last.get("train_loss"), f"last_{held}_loss": last.get(f"{held}_loss")}
        # the rest of the last epoch is the table's last row, and in metrics.jsonl
        epochs, val = series(history, "val_loss")
        if val:
            numbers["best_val_epoch"] = epochs[min(range(len(val)), key=val.__getitem__)]
        mse = float(ctx.test_errors.double().mean()) if len(ctx.test) else None
        return AnalysisResult(numbers, [("curves", fig)], [epoch_table(history, declared)],
                              {"history": history, "terms": declared, "test_mse": mse})

    def combine(self, results):
        """One loss axis when every run minimises the same loss; otherwise each run's loss in its own
        panel (an MSE of 0.01 and an ELBO of 240 share no scale), and beside them what every run
        shares: the test reconstruction error, measured the same way for all."""
        if len(results) < 2:
            return []
        histories, terms = [r.data["history"] for _, r in results], [r.data["terms"] for _, r in results]
        shape = lambda i: (term_named(terms[i], LOSS), [t.key for t in loss_terms(histories[i], terms[i])])  # noqa: E731
        if all(shape(i) == shape(0) for i in range(len(results))):
            fig = figure(7.5, 4.2)
            ax = fig.add_subplot()
            for i, (label, history) in enumerate(zip((lbl for lbl, _ in results), histories)):
                draw_run(ax, history, label, RUN_COLOURS[i % len(RUN_COLOURS)])
            ax.set_yscale("log")
            style(ax, f"{loss_name(terms[0])} (log scale), per epoch")
            return [("curves", fig)]
        cols = min(len(results) + 1, 3)
        rows = -(-(len(results) + 1) // cols)
        fig = figure(3.9 * cols, 3.5 * rows)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for i, ((label, result), ax) in enumerate(zip(results, axes)):
            draw_run(ax, result.data["history"], "", RUN_COLOURS[i % len(RUN_COLOURS)])
            style(ax, f"{label}\n{loss_name(result.data['terms'])}")
        shared_error_bars(axes[len(results)], [(label, r.data.get("test_mse")) for label, r in results])
        for ax in axes[len(results) + 1:]:
            ax.set_visible(False)
        return [("curves", fig)]


def draw_run(ax, history: list[dict], label: str, colour) -> None:
    prefix = f"{label} " if label else ""
    ax.plot(*series(history, metric_key("train", LOSS)), ls="--", color=colour, label=f"{prefix}train")
    held = held_out(history)
    ax.plot(*series(history, metric_key(held, LOSS)), marker="o", ms=4, color=colour, label=f"{prefix}{held}")


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


def epoch_table(history: list[dict], terms: list[MetricTerm]) -> Table:
    """Epoch, each split's loss, the held-out terms, seconds: every column labelled (and signed) as
    the model declares its terms, e.g. 'val ELBO' for the stored negative ELBO `val_nelbo`."""
    prefix = held_out(history)
    loss = term_named(terms, LOSS)
    columns = [(s, loss) for s in SPLITS if any(metric_key(s, LOSS) in r for r in history)]
    columns += [(prefix, t) for t in loss_terms(history, terms)]
    labels = [f"{split} {'loss' if term.key == LOSS else term.label}" for split, term in columns]
    rows = [[r["epoch"], *(fmt(term.shown(r.get(metric_key(split, term.key)))) for split, term in columns),
             "" if r.get("seconds") is None else f"{r['seconds']:.2f}"] for r in history]
    return Table("Metrics per epoch", ["epoch", *labels, "seconds"], rows)


def style(ax, title: str) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=9)
    ax.legend(frameon=False, fontsize=9)


def fmt(value) -> str:
    return "" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value)
