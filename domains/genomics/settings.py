"""The parts of the ``genomics`` config section each stage reads (:func:`ssl_core.config.select_parts`): the
workflow passes a job only these (an edit elsewhere, e.g. ``eval.knn``, reruns no training), and each stage keeps
only these, so that reading any other key fails at once."""

from __future__ import annotations

__all__ = ["STAGE_PARTS"]

STAGE_PARTS: dict[str, tuple[str, ...]] = {
    "preprocess": ("species_aliases", "split", "fragments", "tokenizer", "train"),
    "tokenize": ("tokenizer", "train", "model"),
    "train": ("train", "model"),
    "embed": ("eval",),
    "evaluate": ("eval",),
}
