"""Per-stage conda environments: every rule has one (and a log), each parses, and every pin agrees with
pyproject.toml, so no stage silently gets a different torch than the one tested."""

from __future__ import annotations

import functools
import re
import tomllib

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
        # pretraining is training too, and so is a cross-validated selection of settings
        assert has_gpu == name.endswith(("_train", "_pretrain", "_select")), name


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    """Top-level module -> the installed distributions providing it (read once: it scans every installed package)."""
    from importlib.metadata import packages_distributions

    return packages_distributions()


def _distribution(module: str) -> str:
    """The pip distribution that provides top-level ``module`` (Bio -> biopython, sklearn -> scikit-learn, ...)."""
    return _module_distributions().get(module, [module])[0].lower()


def _third_party_imports(module: str) -> set[str]:
    """Top-level third-party modules ``module`` imports, following imports into domains/ and ssl_core/."""
    import ast
    import sys

    seen, found, todo = set(), set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages' __init__
        path = REPO.joinpath(*parts)
        path = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        if not path.is_file():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for imported in names:
                top = imported.split(".")[0]
                if top in ("domains", "ssl_core"):
                    todo.append(imported)
                elif top not in sys.stdlib_module_names:
                    found.add(top)
    return found


def test_each_rule_env_provides_what_its_stage_imports():
    checked = 0
    for name, body in _rules():
        stage = re.search(r"python -m ([\w.]+)", body)
        env = re.search(r'conda:\s*\n\s*"\.\./(envs/[\w.-]+\.yaml)"', body)
        if not stage or not env:
            continue
        spec = yaml.safe_load((REPO / env.group(1)).read_text())
        pip = {req.lower().split("==")[0] for d in spec["dependencies"] if isinstance(d, dict) for req in d["pip"]}
        needed = {_distribution(m) for m in _third_party_imports(stage.group(1))}
        assert needed <= pip, f"rule {name}: {env.group(1)} lacks {sorted(needed - pip)}"
        checked += 1
    assert checked >= 6


def test_code_corpus_packages_are_pinned_in_the_code_env():
    """The default code-search corpus is the source of these packages: an unpinned one would change the corpus."""
    from packaging.utils import canonicalize_name as canon

    packages = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["code"]["corpus"]["packages"]
    spec = yaml.safe_load((REPO / "envs" / "code.yaml").read_text())
    pinned = {canon(req.split("==")[0]) for d in spec["dependencies"] if isinstance(d, dict) for req in d["pip"]}
    assert len(packages) >= 10
    missing = sorted(m for m in packages if canon(_distribution(m)) not in pinned)
    assert not missing, f"envs/code.yaml does not pin the corpus packages {missing}"
