"""Names of the semi-supervised audio methods and which of them start from the i-Mix pretrained trunk.

Kept free of heavy imports so that the workflow (``workflows/common.smk``) can read them without loading torch.
"""

__all__ = ["METHODS", "SUPERVISED_METHODS", "PRETRAINED_METHODS"]

METHODS = ("supervised_10", "supervised_100", "imix_finetune", "mixmatch", "fixmatch", "fixmatch_mixup")
# Methods trained with cross-entropy on the labelled clips only (after any pretraining).
SUPERVISED_METHODS = ("supervised_10", "supervised_100", "imix_finetune")
# Methods that use the unlabelled clips, and so start from the i-Mix pretrained trunk when ``pretrain.steps > 0``.
PRETRAINED_METHODS = ("imix_finetune", "mixmatch", "fixmatch", "fixmatch_mixup")
