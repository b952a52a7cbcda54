"""The ``code`` config section as the stages see it: defaults from config/config.yaml, then the JSON override
from the command line (Snakemake passes the whole merged section this way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssl_core.config import DEFAULT_CONFIG, deep_merge, load_config, parse_json_override, validate_config

__all__ = ["resolve_hparams"]


def resolve_hparams(config_paths: list[Path] | None, hparams_json: str | None) -> dict[str, Any]:
    """Validated ``code`` section: the config files' section with ``hparams_json`` merged on top."""
    config = load_config(config_paths or [DEFAULT_CONFIG])
    section = dict(config["code"])
    if hparams_json:
        section = deep_merge(section, parse_json_override(hparams_json))
        validate_config({**config, "code": section})
    return section
