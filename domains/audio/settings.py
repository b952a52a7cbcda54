"""The parts of the ``audio`` config sections each stage reads (:func:`ssl_core.config.select_parts`): the workflow
passes a job only these, so that adding a method, a fold or a seed, or editing another stage's settings, reruns no
finished job (a training setting's edit does not rerun the i-Mix pretraining or re-encode the captions), and each
stage keeps only these, so that reading any other key fails at once. Torch-free: the workflow imports it."""

from __future__ import annotations

from ssl_core.errors import InputError

__all__ = ["CLAP_PARTS", "DATA_DATASETS", "SEMISUP_SHIPPED", "semisup_parts", "runs_key", "check_datasets"]

DATA_DATASETS = ("esc50", "fsdd")  # shipped data sets of the data layer (audio.data), fetched from their sources
SEMISUP_SHIPPED = ("esc10", "fsdd")  # shipped semi-supervised data sets (ESC-10 is cut from the ESC-50 features)

# audio.clap: the caption table depends on the class split only; training on everything but the evaluation
CLAP_PARTS: dict[str, tuple[str, ...]] = {
    "captions": ("split",),
    "train": ("split", "features", "model", "text", "train"),
    "evaluate": ("eval",),
}


def runs_key(dataset: str) -> str:
    """The ``audio.semisup`` subsection holding a data set's folds, seeds and time pooling: its own for the shipped
    data sets, ``user`` for every user data set."""
    return dataset if dataset in SEMISUP_SHIPPED else "user"


def check_datasets(section: dict) -> None:
    """Every data set the ``audio`` section names is a shipped one or one of ``audio.user_datasets``."""
    user = section["user_datasets"]
    named = [("data.datasets", n, DATA_DATASETS) for n in section["data"]["datasets"]]
    named += [("semisup.datasets", n, SEMISUP_SHIPPED) for n in section["semisup"]["datasets"]]
    named += [("semisup.dataset_overrides", n, SEMISUP_SHIPPED) for n in section["semisup"]["dataset_overrides"]]
    if section["clap"]["enabled"]:
        named.append(("clap.dataset", section["clap"]["dataset"], ("esc50",)))
    for key, name, shipped in named:
        if name not in shipped and name not in user:
            raise InputError(f"config: audio.{key}: unknown data set {name!r} (shipped: {', '.join(shipped)}; "
                             "name yours under audio.user_datasets)")


def semisup_parts(stage: str, dataset: str) -> tuple[str, ...]:
    """The parts of the data set's ``audio.semisup`` section a ``pretrain`` or ``train`` job reads."""
    shared = ("label_fraction", "val_fraction", f"{runs_key(dataset)}.time_pool", "model", "augment", "pretrain")
    if stage == "pretrain":
        return shared
    if stage == "train":
        return (*shared, "train", "mixmatch", "fixmatch", "selftrain")
    raise ValueError(f"unknown stage {stage!r}")
