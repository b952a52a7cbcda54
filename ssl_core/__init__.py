"""ssl_core: the contrastive and mixup methods shared by every domain pipeline, plus the small runtime helpers
(data fetching with checksums, atomic outputs, thread settings, config validation, one plotting style) that the
pipelines' command-line stages have in common.

The methods are imported lazily (on first attribute access), so stages that only fetch or prepare data
(``ssl_core.fetch``, ``ssl_core.config``) run in an environment without torch. ``docs/ssl_core.md`` lists every
method with its paper.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "geodesic_mixup": "ssl_core.manifold",
    "manifold_mixup": "ssl_core.manifold",
    "sample_layer": "ssl_core.manifold",
    "slerp": "ssl_core.manifold",
    "MixupBatch": "ssl_core.mixup",
    "mix": "ssl_core.mixup",
    "mixup": "ssl_core.mixup",
    "sample_lambda": "ssl_core.mixup",
    "sample_permutation": "ssl_core.mixup",
    "NegativeQueue": "ssl_core.moco",
    "cosine_momentum": "ssl_core.moco",
    "ema_update_": "ssl_core.moco",
    "momentum_copy": "ssl_core.moco",
}


def _public_names() -> list[str]:
    return sorted({*_EXPORTS, "distributed", *importlib.import_module("ssl_core.losses").__all__})


def __getattr__(name: str):
    """Resolve ``ssl_core.<name>`` on first use: the modules above, ``distributed``, else ``ssl_core.losses``.

    ``__all__`` is resolved here too, so ``from ssl_core import *`` works without importing torch up front."""
    if name == "__all__":
        return _public_names()
    if name == "distributed":
        return importlib.import_module("ssl_core.distributed")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    losses = importlib.import_module("ssl_core.losses")
    if name in losses.__all__:
        return getattr(losses, name)
    raise AttributeError(f"module 'ssl_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_public_names()})
