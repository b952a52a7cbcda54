"""Per-stage conda environments: every rule has one (and a log), each parses, and every pin agrees with
pyproject.toml, so no stage silently gets a different torch than the one tested."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from tests.conftest import REPO


def _pyproject_pins() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(d.lower().split("==", 1) for d in deps if "==" in d)


def _rules() -> list[tuple[str, str]]:
    out = []
    for smk in sorted((REPO / "workflows").glob("*.smk")):
        text = smk.read_text()
        for match in re.finditer(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", text, re.M):
            out.append((match.group(1), match.group(2)))
    return out


def test_every_rule_has_conda_env_and_log():
    rules = _rules()
    assert len(rules) >= 6
    for name, body in rules:
        assert "conda:" in body, f"rule {name} has no conda env"
        assert "log:" in body, f"rule {name} has no log"
        env = re.search(r'conda:\s*\n\s*"\.\./(envs/[\w.-]+\.yaml)"', body)
        assert env and (REPO / env.group(1)).is_file(), f"rule {name}: env file missing"


def test_env_files_parse_and_pins_agree_with_pyproject():
    pins = _pyproject_pins()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        assert "python=3.11" in spec["dependencies"]
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        for req in pip:
            name, version = req.lower().split("==")
            assert name in pins, f"{env.name}: {name} is not a dependency in pyproject.toml"
            assert pins[name] == version, f"{env.name}: {name}=={version} but pyproject pins {pins[name]}"


def test_training_rules_request_a_gpu_and_preprocessing_rules_do_not():
    for name, body in _rules():
        has_gpu = re.search(r"^\s+gpu=", body, re.M) is not None
        assert has_gpu == name.endswith("_train"), name
