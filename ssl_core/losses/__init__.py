"""Contrastive and mixup losses as pure functions of tensors (formulas in each docstring)."""

from ssl_core.losses.barlow import barlow_twins_loss, cross_correlation, mixed_barlow_twins_loss, standardize
from ssl_core.losses.cocosoda import cocosoda_loss
from ssl_core.losses.cwcl import cwcl_loss, cwcl_weights
from ssl_core.losses.dcl import dcl_loss, dclw_loss, vmf_weights
from ssl_core.losses.decoupled import decoupled_mixup_loss, mixup_cross_entropy
from ssl_core.losses.imix import i_mix_loss
from ssl_core.losses.infonce import (
    check_temperature,
    info_nce,
    masked_logsumexp,
    nt_xent,
    soft_target_cross_entropy,
)
from ssl_core.losses.m3co import m3co_loss, m3co_multimodal_loss, mixup_targets, soft_clip_loss
from ssl_core.losses.metrix import (
    MetrixPairs,
    ProxyAnchorProxies,
    contrastive_loss,
    metrix_class_targets,
    metrix_contrastive_loss,
    metrix_loss,
    metrix_mix,
    metrix_multi_similarity_loss,
    metrix_pairs,
    metrix_proxy_anchor_loss,
    metrix_utilization,
    multi_similarity_loss,
    proxy_anchor_loss,
    soft_label_pair_loss,
    soft_label_pair_terms,
)
from ssl_core.losses.mochi import mix_hard_negatives, mochi_loss, mochi_negatives, moco_info_nce
from ssl_core.losses.multiview import multiview_info_nce
from ssl_core.losses.regression import c_mixup_partners, c_mixup_probabilities, supremix_loss, supremix_pairs
from ssl_core.losses.semisup import (
    balanced_pseudo_labels,
    distribution_alignment,
    fixmatch_loss,
    linear_rampup,
    masked_soft_cross_entropy,
    mixed_pseudo_label_loss,
    mixmatch_loss,
    pseudo_labels,
    sharpen,
)

__all__ = [
    "MetrixPairs",
    "ProxyAnchorProxies",
    "balanced_pseudo_labels",
    "barlow_twins_loss",
    "c_mixup_partners",
    "c_mixup_probabilities",
    "check_temperature",
    "cocosoda_loss",
    "contrastive_loss",
    "cross_correlation",
    "cwcl_loss",
    "cwcl_weights",
    "dcl_loss",
    "dclw_loss",
    "decoupled_mixup_loss",
    "distribution_alignment",
    "fixmatch_loss",
    "i_mix_loss",
    "info_nce",
    "linear_rampup",
    "m3co_loss",
    "m3co_multimodal_loss",
    "masked_logsumexp",
    "masked_soft_cross_entropy",
    "metrix_class_targets",
    "metrix_contrastive_loss",
    "metrix_loss",
    "metrix_mix",
    "metrix_multi_similarity_loss",
    "metrix_pairs",
    "metrix_proxy_anchor_loss",
    "metrix_utilization",
    "mix_hard_negatives",
    "mixed_barlow_twins_loss",
    "mixed_pseudo_label_loss",
    "mixmatch_loss",
    "mixup_cross_entropy",
    "mixup_targets",
    "mochi_loss",
    "mochi_negatives",
    "moco_info_nce",
    "multi_similarity_loss",
    "multiview_info_nce",
    "nt_xent",
    "proxy_anchor_loss",
    "pseudo_labels",
    "sharpen",
    "soft_clip_loss",
    "soft_label_pair_loss",
    "soft_label_pair_terms",
    "soft_target_cross_entropy",
    "standardize",
    "supremix_loss",
    "supremix_pairs",
    "vmf_weights",
]
