"""The ``code`` config section as the stages see it: defaults from config/config.yaml, then the JSON override
from the command line (Snakemake passes the whole merged section this way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssl_core.config import resolve_section

__all__ = ["resolve_hparams"]


def resolve_hparams(config_paths: list[Path] | None, hparams_json: str | None) -> dict[str, Any]:
    """Validated ``code`` section: the config files' section with ``hparams_json`` merged on top."""
    return resolve_section(("code",), config_paths, hparams_json)
