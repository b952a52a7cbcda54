"""The ``audio.clap`` config section as the CLAP stages see it: defaults from config/config.yaml, then any JSON
override from the command line (Snakemake passes the whole merged section this way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssl_core.config import DEFAULT_CONFIG, deep_merge, load_config, parse_json_override, validate_config

__all__ = ["resolve_clap_hparams", "STAGES"]

# Training stages in curriculum order: each starts from the previous one's model.
STAGES = ("plain", "stageA", "stageB")


def resolve_clap_hparams(config_paths: list[Path] | None, hparams_json: str | None) -> dict[str, Any]:
    """Validated ``audio.clap`` section: the config files' section with ``hparams_json`` merged on top."""
    config = load_config(config_paths or [DEFAULT_CONFIG])
    section = dict(config["audio"]["clap"])
    if hparams_json:
        section = deep_merge(section, parse_json_override(hparams_json))
        validate_config({**config, "audio": {**config["audio"], "clap": section}})
    return section
