"""Names of the semi-supervised audio data sets and methods, and which methods start from the i-Mix pretrained trunk.

Kept free of heavy imports so that the workflow (``workflows/common.smk``) uses the same definitions without
loading torch. A run's ``audio.semisup`` settings (the data set's ``dataset_overrides`` merged in) come from
``ssl_core.config.resolve_section(("audio", "semisup"), ..., dataset)``.
"""

__all__ = ["SEMISUP_DATASETS", "features_dataset", "METHODS", "SUPERVISED_METHODS", "PRETRAINED_METHODS", "SELF_TRAINING_METHODS"]

SEMISUP_DATASETS = {"esc10": "esc50", "fsdd": "fsdd"}  # semi-supervised data set -> features file it is cut from


def features_dataset(dataset: str) -> str:
    """The data set whose features file a semi-supervised data set is cut from (a user data set: its own)."""
    return SEMISUP_DATASETS.get(dataset, dataset)


METHODS = ("supervised_10", "supervised_100", "imix_finetune", "mixmatch", "fixmatch", "fixmatch_mixup",
           "selftrain_mixup")
# Methods trained with cross-entropy on the labelled clips only (after any pretraining).
SUPERVISED_METHODS = ("supervised_10", "supervised_100", "imix_finetune")
# Methods that use the unlabelled clips, and so start from the i-Mix pretrained trunk when ``pretrain.steps > 0``.
PRETRAINED_METHODS = ("imix_finetune", "mixmatch", "fixmatch", "fixmatch_mixup")
# Methods whose run first trains a supervised_10 teacher and then a student on its pseudo-labels.
SELF_TRAINING_METHODS = ("selftrain_mixup",)

