"""What a logged number means and how a reader sees it, declared where it is computed.

A model declares the terms of its loss (`Autoencoder.metric_terms()`), `aelab evaluate` the
numbers it writes; the run's documents carry those declarations, so the report (which never
imports torch or the models) labels and signs each number from them instead of guessing from
its key. metrics.jsonl holds each term once per split: `val_nelbo` is the term `nelbo` on
the validation split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

SPLITS = {"train": "train", "val": "validation", "test": "test"}  # metrics.jsonl's prefix -> what a reader sees
LOSS = "loss"  # the key of the total that training minimises, beside the model's own terms


@dataclass(frozen=True)
class MetricTerm:
    key: str  # the name it is logged under, without a split: 'nelbo', 'mse_per_pixel'
    label: str  # what a reader sees: 'ELBO'
    unit: str = ""  # 'nats per image', 'mean per pixel', 'dB'; '' for a plain number
    sign: int = 1  # -1: shown negated (a stored negative ELBO is shown as the ELBO)

    @property
    def title(self) -> str:
        """'ELBO (nats per image)'."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def shown(self, value):
        """The value as a reader sees it (sign applied); None and non-numbers unchanged."""
        if self.sign == 1 or isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        return -value


# the columns every metrics.jsonl row has beside each split's loss terms (aelab.train)
EPOCH_TERMS = (MetricTerm("seconds", "training seconds", "s"), MetricTerm("images_per_s", "training images per second"))


def metric_key(split: str, term: str) -> str:
    """('val', 'nelbo') -> 'val_nelbo', the column of metrics.jsonl."""
    return f"{split}_{term}"


def find_term(key: str, terms: Iterable[MetricTerm]) -> tuple[str | None, MetricTerm] | None:
    """The split and the declared term that `key` names: 'val_nelbo' -> ('val', nelbo), 'elbo' ->
    (None, elbo); None for a key that no term declares (it is then not a metric of the run)."""
    by_key = {t.key: t for t in terms}
    if key in by_key:
        return None, by_key[key]
    for split in SPLITS:
        term = by_key.get(key.removeprefix(f"{split}_")) if key.startswith(f"{split}_") else None
        if term:
            return split, term
    return None


def term_title(key: str, terms: Iterable[MetricTerm]) -> str | None:
    """'val_nelbo' -> 'validation ELBO (nats per image)'; None where no term declares `key`."""
    found = find_term(key, terms)
    if found is None:
        return None
    split, term = found
    return f"{SPLITS[split]} {term.title}" if split else term.title


def shown_value(key: str, value, terms: Iterable[MetricTerm]):
    """The value of `key` as a reader sees it: negated where its declared term says so."""
    found = find_term(key, terms)
    return found[1].shown(value) if found else value


def term_named(terms: Iterable[MetricTerm], key: str) -> MetricTerm:
    """The declared term `key`; a plain one labelled by its key where none is declared."""
    return next((t for t in terms if t.key == key), MetricTerm(key, key.replace("_", " ")))


# the reconstruction errors plain autoencoders train on (`loss = "mse"` or "bce"), means per pixel
RECONSTRUCTION_TERMS = {"mse": MetricTerm("mse", "MSE", "mean per pixel"), "bce": MetricTerm("bce", "BCE", "mean per pixel")}


def per_pixel_terms(reconstruction: str = "mse", *extra: MetricTerm, loss: MetricTerm | None = None) -> list[MetricTerm]:
    """The terms of a loss that is a reconstruction error averaged over pixels, plus `extra` logged
    terms; `loss` describes the total where it is more than the reconstruction error (a penalty added)."""
    rec = RECONSTRUCTION_TERMS[reconstruction]
    return [loss or MetricTerm(LOSS, rec.label, rec.unit), rec, *extra]
