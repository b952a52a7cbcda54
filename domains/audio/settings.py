"""The parts of the ``audio`` config sections each stage reads (:func:`ssl_core.config.select_parts`): the workflow
passes a job only these, so that adding a method, a fold or a seed, or editing another stage's settings, reruns no
finished job (a training setting's edit does not rerun the i-Mix pretraining or re-encode the captions), and each
stage keeps only these, so that reading any other key fails at once. Torch-free: the workflow imports it."""

from __future__ import annotations

__all__ = ["CLAP_PARTS", "semisup_parts"]

# audio.clap: the caption table depends on the class split only; training on everything but the evaluation
CLAP_PARTS: dict[str, tuple[str, ...]] = {
    "captions": ("split",),
    "train": ("split", "features", "model", "text", "train"),
    "evaluate": ("eval",),
}


def semisup_parts(stage: str, dataset: str) -> tuple[str, ...]:
    """The parts of the data set's ``audio.semisup`` section a ``pretrain`` or ``train`` job reads."""
    shared = ("label_fraction", "val_fraction", f"{dataset}.time_pool", "model", "augment", "pretrain")
    if stage == "pretrain":
        return shared
    if stage == "train":
        return (*shared, "train", "mixmatch", "fixmatch", "selftrain")
    raise ValueError(f"unknown stage {stage!r}")
