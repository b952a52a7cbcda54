"""Contrastive losses as pure functions of tensors (formulas in each docstring)."""

from ssl_core.losses.infonce import info_nce, nt_xent, soft_target_cross_entropy
from ssl_core.losses.m3co import m3co_loss, m3co_multimodal_loss, mixup_targets, soft_clip_loss

__all__ = [
    "info_nce",
    "m3co_loss",
    "m3co_multimodal_loss",
    "mixup_targets",
    "nt_xent",
    "soft_clip_loss",
    "soft_target_cross_entropy",
]
