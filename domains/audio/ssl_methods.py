"""Names of the semi-supervised audio data sets and methods, which methods start from the i-Mix pretrained trunk,
and the per-data-set merge of the ``audio.ssl`` section.

Kept free of heavy imports so that the workflow (``workflows/common.smk``) uses the same definitions without
loading torch.
"""

from ssl_core.config import deep_merge

__all__ = ["SSL_DATASETS", "METHODS", "SUPERVISED_METHODS", "PRETRAINED_METHODS", "SELF_TRAINING_METHODS", "run_hparams"]

SSL_DATASETS = {"esc10": "esc50", "fsdd": "fsdd"}  # SSL data set -> features file it is cut from

METHODS = ("supervised_10", "supervised_100", "imix_finetune", "mixmatch", "fixmatch", "fixmatch_mixup",
           "selftrain_mixup")
# Methods trained with cross-entropy on the labelled clips only (after any pretraining).
SUPERVISED_METHODS = ("supervised_10", "supervised_100", "imix_finetune")
# Methods that use the unlabelled clips, and so start from the i-Mix pretrained trunk when ``pretrain.steps > 0``.
PRETRAINED_METHODS = ("imix_finetune", "mixmatch", "fixmatch", "fixmatch_mixup")
# Methods whose run first trains a supervised_10 teacher and then a student on its pseudo-labels.
SELF_TRAINING_METHODS = ("selftrain_mixup",)


def run_hparams(section: dict, dataset: str) -> dict:
    """The ``audio.ssl`` section with the data set's overrides merged in."""
    return deep_merge({k: v for k, v in section.items() if k != "dataset_overrides"},
                      section.get("dataset_overrides", {}).get(dataset, {}))
