"""Workflow configuration: YAML files merged in order, validated against the JSON schema in ``config/``.

The Snakefile and every stage's command line use the same functions, so a typo in a key or a wrong type is
caught with the same one-line message (``config: <key path>: <what is wrong>``) wherever it is read.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ssl_core.errors import InputError

__all__ = ["REPO_ROOT", "SCHEMA_PATH", "DEFAULT_CONFIG", "deep_merge", "validate_config", "load_config",
           "select_parts", "section_for", "resolve_section", "parse_json_override",
           "user_keys_beat_shipped_overrides"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "config" / "config.schema.yaml"
DEFAULT_CONFIG = REPO_ROOT / "config" / "config.yaml"


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated recursively by ``override`` (mappings merge, everything else is replaced)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate_config(config: Mapping[str, Any], schema_path: str | Path = SCHEMA_PATH) -> None:
    """Raise :class:`InputError` with one line naming the offending key if ``config`` breaks the schema."""
    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(json.loads(json.dumps(config))))
    if error is None:
        return
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    message = error.message
    if error.validator == "additionalProperties":
        message = message.replace("Additional properties are not allowed", "unknown key")
        # a schema object may list keys it renamed (``x-renamed: {old: new}``): name the new key
        renamed = error.schema.get("x-renamed", {}) if isinstance(error.schema, dict) else {}
        moved = [f"{old!r} is now {new!r}" for old, new in renamed.items() if old in error.instance]
        if moved:
            message = f"renamed key: {'; '.join(moved)}"
    raise InputError(f"config: {where}: {message}")


_MISSING = object()


def _leaves(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            out += _leaves(value, (*prefix, key))
        else:
            out.append(((*prefix, key), value))
    return out


def _at(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return _MISSING
        tree = tree[key]
    return tree


def user_keys_beat_shipped_overrides(shipped: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` (the shipped config with the user's merged over it) without the shipped per-data-set values that
    a user's section key replaces. A section's ``dataset_overrides.<DS>`` wins over the section's own keys; but
    where the user changed a section key (its value differs from the shipped one) and left the shipped override
    of that key as it was, the user's key applies to every data set: editing ``medical.train.epochs`` changes
    ROSMAP's epochs too. To set one data set apart, set its ``dataset_overrides`` key."""
    out = copy.deepcopy(dict(config))

    def walk(ship: Mapping[str, Any], section: dict[str, Any]) -> None:
        for key, value in ship.items():
            if key == "dataset_overrides" and isinstance(value, Mapping):
                for dataset, shipped_override in value.items():
                    if not isinstance(shipped_override, Mapping):
                        continue
                    for path, shipped_value in _leaves(shipped_override):
                        user_override = _at(section, ("dataset_overrides", dataset, *path))
                        if user_override == shipped_value and _at(section, path) != _at(ship, path):
                            parent = _at(section, ("dataset_overrides", dataset, *path[:-1]))
                            del parent[path[-1]]
            elif isinstance(value, Mapping) and isinstance(section.get(key), dict):
                walk(value, section[key])

    walk(shipped, out)
    return out


def load_config(paths: list[str | Path], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge the YAML files in ``paths`` (later ones win) and ``overrides``, then validate. When ``paths`` starts
    with the shipped config/config.yaml, a section key set by what follows beats the shipped per-data-set value of
    that key (:func:`user_keys_beat_shipped_overrides`)."""
    config: dict[str, Any] = {}
    shipped: dict[str, Any] | None = None
    for path in paths:
        try:
            with open(path) as fh:
                loaded = yaml.safe_load(fh) or {}
        except OSError as exc:
            raise InputError(f"{path}: cannot read config ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{path}: a config file must hold a mapping of keys")
        if not config and Path(path).resolve() == DEFAULT_CONFIG:
            shipped = loaded  # deep_merge copies, so this stays as read
        config = deep_merge(config, loaded)
    if overrides:
        config = deep_merge(config, overrides)
    if shipped is not None:
        config = user_keys_beat_shipped_overrides(shipped, config)
    validate_config(config)
    return config


def parse_json_override(text: str, option: str = "--hparams") -> dict[str, Any]:
    """A stage's JSON override of its config section (what Snakemake passes); one-line InputError if malformed."""
    try:
        override = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{option}: not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(override, dict):
        raise InputError(f"{option}: must be a JSON object")
    return override


def select_parts(section: Mapping[str, Any], parts: tuple[str, ...]) -> dict[str, Any]:
    """Only the ``parts`` of a config section (``"train"``: the whole subsection; a dotted ``"train.scaling"``:
    one key of it). Each domain names the parts each stage reads (``STAGE_PARTS`` in its ``settings`` module): the
    workflow passes a job only those, so that editing another stage's settings reruns no finished job, and the
    stage keeps only those, so that reading any other key fails at once instead of quietly taking a default."""
    out: dict[str, Any] = {}
    for part in parts:
        *path, last = part.split(".")
        src: Any = section
        dst = out
        for key in path:
            src = src[key]
            dst = dst.setdefault(key, {})
        dst[last] = copy.deepcopy(src[last])
    return out


def section_for(config: Mapping[str, Any], keys: tuple[str, ...], dataset: str | None = None,
                parts: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The config section at ``keys`` (e.g. ``("audio", "semisup")``) as one stage run sees it. With ``dataset``,
    the section's ``dataset_overrides[dataset]`` is merged in and ``dataset_overrides`` dropped. The workflow
    builds each job's ``--hparams`` with this function and the stage resolves its section with it again, so both
    see the same values."""
    section: Any = config
    for key in keys:
        section = section[key]
    section = copy.deepcopy(dict(section))
    if dataset is not None and "dataset_overrides" in section:
        section = deep_merge(section, section.pop("dataset_overrides").get(dataset, {}))
    return select_parts(section, parts) if parts is not None else section


def resolve_section(keys: tuple[str, ...], config_paths: list[Path] | None, hparams_json: str | None,
                    dataset: str | None = None, parts: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The one way a stage reads its configuration: config/config.yaml (every key with its default), then the
    files in ``config_paths`` merged over it, validated; the section at ``keys`` for ``dataset``
    (:func:`section_for`); then the stage's ``--hparams`` JSON merged on top and the whole config validated again,
    so a bad override fails like a bad config file; with ``parts``, only those parts (:func:`select_parts`).
    Stage code reads keys with ``[]``, never ``.get()`` defaults: every key exists in config.yaml."""
    paths = [DEFAULT_CONFIG] + [p for p in (config_paths or []) if Path(p).resolve() != DEFAULT_CONFIG]
    config = load_config(paths)
    section = section_for(config, keys, dataset)
    if hparams_json:
        section = deep_merge(section, parse_json_override(hparams_json))
        merged: Any = section if dataset is None else {**section, "dataset_overrides": {}}
        for depth in range(len(keys) - 1, -1, -1):
            parent = config
            for key in keys[:depth]:
                parent = parent[key]
            merged = {**parent, keys[depth]: merged}
        validate_config(merged)
    return select_parts(section, parts) if parts is not None else section
