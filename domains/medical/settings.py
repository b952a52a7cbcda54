"""The medical training methods and the parts of the ``medical`` config section each stage reads
(:func:`ssl_core.config.select_parts`).

Kept free of heavy imports so that the workflow gives each job exactly these parts as its ``--hparams`` (a job
reruns when one of them changes, not when a seed, a method or a data set is added), and each stage keeps only
these parts (and fingerprints its checkpoints with them).
"""

from __future__ import annotations

from domains.medical.data.datasets import DATASETS
from ssl_core.errors import InputError

__all__ = ["METHODS", "STAGE_PARTS", "check_datasets"]

METHODS = ("m3col", "mogonet", "logreg")

_SPLIT = ("val_fraction", "test_fraction")
STAGE_PARTS: dict[str, tuple[str, ...]] = {
    "prepare": ("preprocess",),
    "train_m3col": (*_SPLIT, "train", "model", "m3co"),
    # MOGONET trains on every training row (no validation rows) with its own schedule and scaling
    "train_mogonet": ("test_fraction", "train.checkpoint_every", "mogonet"),
    # logistic regression chooses C by cross-validation on all training rows (no validation rows)
    "train_logreg": ("test_fraction", "train.scaling", "logreg"),
    # M3CoL's settings by cross-validation on a split's training rows (domains.medical.m3col.select)
    "select": (*_SPLIT, "train", "model", "m3co", "select"),
}


def check_datasets(section: dict) -> None:
    """Every name in ``medical.datasets`` and ``medical.resplit.datasets`` is a shipped data set or one of
    ``medical.user_datasets``."""
    for key, names in (("datasets", section["datasets"]),
                       ("resplit.datasets", section.get("resplit", {}).get("datasets") or [])):
        for name in names:
            if name not in DATASETS and name not in section["user_datasets"]:
                raise InputError(f"config: medical.{key}: unknown data set {name!r} (shipped: {', '.join(DATASETS)};"
                                 " name yours under medical.user_datasets)")
