"""ssl_core: the contrastive and mixup methods shared by every domain pipeline, plus the small runtime helpers
(data fetching with checksums, atomic outputs, thread and seed settings, one plotting style) that the pipelines'
command-line stages have in common."""

from ssl_core import distributed
from ssl_core.losses import *  # noqa: F403
from ssl_core.losses import __all__ as _losses_all
from ssl_core.manifold import geodesic_mixup, manifold_mixup, sample_layer, slerp
from ssl_core.mixup import MixupBatch, mix, mixup, sample_lambda, sample_permutation
from ssl_core.moco import NegativeQueue, cosine_momentum, ema_update_, momentum_copy

__all__ = sorted(
    [
        *_losses_all,
        "MixupBatch",
        "NegativeQueue",
        "cosine_momentum",
        "distributed",
        "ema_update_",
        "geodesic_mixup",
        "manifold_mixup",
        "mix",
        "mixup",
        "momentum_copy",
        "sample_lambda",
        "sample_layer",
        "sample_permutation",
        "slerp",
    ]
)
