"""The ``audio.clap`` config section as the CLAP stages see it: defaults from config/config.yaml, then any JSON
override from the command line (Snakemake passes the whole merged section this way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssl_core.config import resolve_section

__all__ = ["resolve_clap_hparams", "STAGES"]

# Training stages in curriculum order: each starts from the previous one's model.
STAGES = ("plain", "stageA", "stageB")


def resolve_clap_hparams(config_paths: list[Path] | None, hparams_json: str | None) -> dict[str, Any]:
    """Validated ``audio.clap`` section: the config files' section with ``hparams_json`` merged on top."""
    return resolve_section(("audio", "clap"), config_paths, hparams_json)
