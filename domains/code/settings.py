"""The parts of the ``code`` config section each stage reads (:func:`ssl_core.config.select_parts`): the workflow
passes a job only these (adding a benchmark, a variant or editing another stage's settings reruns no finished
job), and each stage keeps only these, so that reading any other key fails at once."""

from __future__ import annotations

__all__ = ["STAGE_PARTS"]

STAGE_PARTS: dict[str, tuple[str, ...]] = {
    "corpus": ("corpus",),
    "tokenizer": ("tokenizer", "model"),
    "train": ("model", "train", "augment"),
    "evaluate": ("model", "eval"),
}
