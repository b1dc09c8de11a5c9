"""2. Training curves from the run's metrics.jsonl (loss per epoch, and its terms)."""

from __future__ import annotations

from matplotlib.ticker import MaxNLocator

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import RUN_COLOURS, figure

SPLITS = ("train", "val", "test")
BOOKKEEPING = {"epoch", "seconds", "images_per_s"}


def loss_terms(history: list[dict]) -> list[str]:
    """Names of the loss terms logged besides the total, e.g. ['kl', 'mse']."""
    keys = {k.split("_", 1)[1] for row in history for k in row if k.startswith(("val_", "test_"))}
    return sorted(keys - {"loss"})


def series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in history if r.get(key) is not None]
    return [r["epoch"] for r in rows], [r[key] for r in rows]


@register_analysis
class TrainingCurves(Analysis):
    name, title, order = "curves", "Training curves", 20
    note = ("Training and held-out loss per epoch: a held-out curve that turns up while training keeps falling "
            "is overfitting; two curves still falling at the end mean more epochs would help.")

    def applies(self, ctx) -> bool:
        return bool(ctx.run.read_metrics())

    def run(self, ctx) -> AnalysisResult:
        history = ctx.run.read_metrics()
        terms = loss_terms(history)
        fig = figure(10 if len(terms) > 1 else 6.5, 3.8)
        axes = fig.subplots(1, 2 if len(terms) > 1 else 1, squeeze=False)[0]
        for split in SPLITS:
            epochs, values = series(history, f"{split}_loss")
            if values:
                axes[0].plot(epochs, values, marker="o", ms=4, label=split)
        style(axes[0], "loss (what training minimises)")
        if len(terms) > 1:
            prefix = "val" if any(f"val_{terms[0]}" in r for r in history) else "test"
            for term in terms:
                axes[1].plot(*series(history, f"{prefix}_{term}"), marker="o", ms=4, label=term)
            style(axes[1], f"loss terms ({prefix})")
        last = history[-1]
        numbers = {"epochs": last["epoch"], "training_seconds": sum(r.get("seconds", 0.0) for r in history)}
        numbers |= {k: v for k, v in last.items() if k not in BOOKKEEPING and isinstance(v, (int, float))}
        epochs, val = series(history, "val_loss")
        if val:
            numbers["best_val_epoch"] = epochs[min(range(len(val)), key=val.__getitem__)]
        keys = [k for k in history[0] if k != "epoch"]
        table = Table("Metrics per epoch", ["epoch", *keys], [[r["epoch"], *(fmt(r.get(k)) for k in keys)] for r in history])
        return AnalysisResult(numbers, [("curves", fig)], [table], {"history": history})

    def combine(self, results):
        if len(results) < 2:
            return []
        fig = figure(7.5, 4.2)
        ax = fig.add_subplot()
        for i, (label, result) in enumerate(results):
            colour = RUN_COLOURS[i % len(RUN_COLOURS)]
            history = result.data["history"]
            ax.plot(*series(history, "train_loss"), ls="--", color=colour, label=f"{label} train")
            held = "val_loss" if any("val_loss" in r for r in history) else "test_loss"
            ax.plot(*series(history, held), marker="o", ms=4, color=colour, label=f"{label} {held.split('_')[0]}")
        ax.set_yscale("log")
        style(ax, "loss per epoch (log scale: each model's own loss)")
        return [("curves", fig)]


def style(ax, title: str) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=9)


def fmt(value) -> str:
    return "" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value)
