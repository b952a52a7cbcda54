"""The ``medical`` config section as the stages see it: defaults from config/config.yaml, the data set's
``dataset_overrides`` applied, then any JSON override from the command line (Snakemake passes the merged section
this way, so ``--config key=value`` on the snakemake command line reaches the stage too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssl_core.config import DEFAULT_CONFIG, deep_merge, load_config, parse_json_override, validate_config

__all__ = ["resolve_hparams"]


def resolve_hparams(config_paths: list[Path] | None, hparams_json: str | None, dataset: str) -> dict[str, Any]:
    """Validated hyperparameters of ``dataset``: the config files' section with the data set's overrides applied,
    then ``hparams_json`` (a JSON object, possibly partial) merged on top."""
    config = load_config(config_paths or [DEFAULT_CONFIG])
    section = dict(config["medical"])
    section = deep_merge(section, section.pop("dataset_overrides", {}).get(dataset, {}))
    if hparams_json:
        section = deep_merge(section, parse_json_override(hparams_json))
        validate_config({**config, "medical": {**section, "dataset_overrides": {}}})
    return section
