"""The ``genomics`` config section as the stages see it: defaults from config/config.yaml, then any JSON override
from the command line (Snakemake passes the whole merged section this way)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ssl_core.config import DEFAULT_CONFIG, deep_merge, load_config, validate_config
from ssl_core.errors import InputError

__all__ = ["resolve_hparams"]


def resolve_hparams(config_paths: list[Path] | None, hparams_json: str | None) -> dict[str, Any]:
    """Validated ``genomics`` section: the config files' section with ``hparams_json`` merged on top."""
    config = load_config(config_paths or [DEFAULT_CONFIG])
    section = dict(config["genomics"])
    if hparams_json:
        try:
            override = json.loads(hparams_json)
        except json.JSONDecodeError as exc:
            raise InputError(f"--hparams: not valid JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(override, dict):
            raise InputError("--hparams: must be a JSON object")
        section = deep_merge(section, override)
        validate_config({**config, "genomics": section})
    return section
