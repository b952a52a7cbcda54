"""The parts of the ``metric`` config section each stage reads (:func:`ssl_core.config.select_parts`): the workflow
passes a job only these (an edit of ``eval`` reruns no training, an edit of ``tune`` nothing of the default run),
and each stage keeps only these, so that reading any other key fails at once. Torch-free: the workflow imports it."""

from __future__ import annotations

__all__ = ["DATASETS", "STAGE_PARTS"]

DATASETS: tuple[str, ...] = ("esc50", "species")

STAGE_PARTS: dict[str, tuple[str, ...]] = {
    "data": ("data",),
    "train": ("losses", "mixing", "compare", "model", "train", "loss", "metrix", "imix", "mochi"),
    "evaluate": ("eval",),
    "tune": ("model", "train", "loss", "metrix", "imix", "mochi", "eval", "tune"),
}
