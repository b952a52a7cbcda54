"""config/config.yaml holds every key the schema knows (and no other), and config/README.md describes each one.

A README row names keys with backticks: its first cell's first name is the row's key (``<...>`` is a placeholder
for any name, ``*`` any keys below); bare names elsewhere in the row are siblings or children of it (e.g.
``medical.train.lr``, ``weight_decay``)."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest
import yaml

from tests.conftest import REPO

SCHEMA = yaml.safe_load((REPO / "config" / "config.schema.yaml").read_text())


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node:
        props = dict(node.get("properties", {}))
        for part in node["allOf"]:
            props.update(_resolve(part).get("properties", {}))
        node = {**{k: v for k, v in node.items() if k != "allOf"}, "properties": props}
    return node


def schema_keys(node: dict = SCHEMA, prefix: str = "") -> set[str]:
    """Dotted keys of the schema: objects with fixed properties are descended, anything else (values, and maps
    such as ``dataset_overrides`` with names chosen by the user) is a key."""
    node = _resolve(node)
    if "properties" in node:
        return {k for name, sub in node["properties"].items()
                for k in schema_keys(sub, f"{prefix}.{name}" if prefix else name)}
    return {prefix}


def config_keys(d: dict, known: set[str], prefix: str = "") -> set[str]:
    out = set()
    for name, value in d.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if key not in known and isinstance(value, dict) and value:
            out |= config_keys(value, known, key)
        else:
            out.add(key)
    return out


def readme_patterns() -> tuple[set[str], list[str]]:
    """(every key pattern the README's rows name, each row's first key)."""
    patterns, heads = set(), []
    for row in (REPO / "config" / "README.md").read_text().splitlines():
        if not row.startswith("| `"):
            continue
        row = row.replace("\\|", "|")
        names = [re.sub(r"<[^>]*>", "*", n) for n in re.findall(r"`([^`]+)`", row)
                 if re.fullmatch(r"[A-Za-z0-9_*.<>|-]+", n)]
        head = names[0]
        heads.append(head)
        parent = head.rsplit(".", 1)[0]
        base = head[:-2] if head.endswith(".*") else head
        for n in names:
            patterns.add(n)
            if "." not in n or n.startswith("*"):
                patterns |= {f"{parent}.{n}", f"{base}.{n}"}
    return patterns, heads


def _named(key: str, patterns: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) or fnmatch.fnmatchcase(key + ".x", p) for p in patterns)


def test_config_yaml_holds_exactly_the_schema_keys():
    known = schema_keys()
    in_yaml = config_keys(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), known)
    assert sorted(known - in_yaml) == [], "keys only in the schema: add them to config/config.yaml"
    assert sorted(in_yaml - known) == [], "keys only in config/config.yaml: add them to the schema"


def test_readme_describes_every_key_and_no_other():
    known = schema_keys()
    patterns, heads = readme_patterns()
    assert sorted(k for k in known if not _named(k, patterns)) == [], "keys not described in config/README.md"
    stale = [h for h in heads if not any(fnmatch.fnmatchcase(k, h) or fnmatch.fnmatchcase(k + ".x", h)
                                         or k.startswith(h.rstrip("*").rstrip(".") + ".") for k in known)]
    assert stale == [], "config/README.md rows naming keys the schema does not have"


def test_the_checks_catch_a_missing_key():
    patterns, _ = readme_patterns()
    assert _named("medical.train.weight_decay", patterns)  # a sibling named bare in its row
    assert _named("audio.semisup.train.bn_batches", patterns)  # a child of a `.*` row
    assert not _named("medical.train.no_such_key", patterns)
    assert "genomics.train.lr" in schema_keys() and "medical.dataset_overrides" in schema_keys()


@pytest.mark.parametrize("domain, folder", [("metric", "metric_tune"), ("medical", "medical_select")])
def test_committed_choice_records_match_the_config(domain, folder):
    """Each committed record of a choice grid (made on validation classes or cross-validation folds) names values
    that the config really uses for its data set: a record and config.yaml cannot drift apart."""
    from ssl_core.config import resolve_section

    records = sorted((REPO / "config" / folder).glob("*.json"))
    for record in records:
        data = json.loads(record.read_text())
        section = resolve_section((domain,), None, None, data.get("dataset", record.stem))
        for dotted, value in data["chosen"].items():
            node = section
            for key in dotted.split("."):
                node = node[key]
            assert node == value, f"{record.name}: {dotted} chose {value}, config has {node}"
