"""ssl_core: the contrastive and mixup methods shared by every domain pipeline, plus the small runtime helpers
(data fetching with checksums, atomic outputs, thread and seed settings, one plotting style) that the pipelines'
command-line stages have in common."""

from ssl_core.losses import (
    info_nce,
    m3co_loss,
    m3co_multimodal_loss,
    mixup_targets,
    nt_xent,
    soft_clip_loss,
    soft_target_cross_entropy,
)
from ssl_core.mixup import MixupBatch, mix, mixup, sample_lambda, sample_permutation

__all__ = [
    "MixupBatch",
    "info_nce",
    "m3co_loss",
    "m3co_multimodal_loss",
    "mix",
    "mixup",
    "mixup_targets",
    "nt_xent",
    "sample_lambda",
    "sample_permutation",
    "soft_clip_loss",
    "soft_target_cross_entropy",
]
