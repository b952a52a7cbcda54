"""ssl_core: the contrastive and mixup methods shared by every domain pipeline, plus the small runtime helpers
(data fetching with checksums, atomic outputs, thread settings, config validation, one plotting style) that the
pipelines' command-line stages have in common.

The methods are imported lazily, so stages that only fetch or prepare data (``ssl_core.fetch``,
``ssl_core.config``) run in an environment without torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "info_nce": "ssl_core.losses",
    "nt_xent": "ssl_core.losses",
    "soft_target_cross_entropy": "ssl_core.losses",
    "m3co_loss": "ssl_core.losses",
    "m3co_multimodal_loss": "ssl_core.losses",
    "mixup_targets": "ssl_core.losses",
    "soft_clip_loss": "ssl_core.losses",
    "MixupBatch": "ssl_core.mixup",
    "mix": "ssl_core.mixup",
    "mixup": "ssl_core.mixup",
    "sample_lambda": "ssl_core.mixup",
    "sample_permutation": "ssl_core.mixup",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ssl_core' has no attribute {name!r}")
