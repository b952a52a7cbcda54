"""The Snakemake workflow as a user runs it: lint, dry run, a tiny real run, a config typo, up-to-date rerun."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def _env(mirror: Path | None) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if mirror is not None:
        env["SSL_DATA_MIRROR"] = str(mirror)
    return env


def _snakemake(workdir: Path, *args: str, mirror: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir``, a fresh directory that links the workflow's files (a clean clone, in effect)."""
    for name in ("Snakefile", "workflows", "config", "envs", "report", "domains", "ssl_core"):
        link = workdir / name
        if not link.exists():
            link.symlink_to(REPO / name)
    return subprocess.run([str(SNAKEMAKE), *args], capture_output=True, text=True, cwd=workdir, env=_env(mirror),
                          timeout=timeout)


def test_lint_is_clean(tmp_path):
    proc = _snakemake(tmp_path, "--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_dry_run_default_config(tmp_path):
    proc = _snakemake(tmp_path, "-n")
    assert proc.returncode == 0, proc.stderr
    assert "medical_fetch" in proc.stdout


def test_config_typo_fails_before_the_dag_with_one_line(tmp_path):
    proc = _snakemake(tmp_path, "-n", "--config", "domainz=[medical]")
    assert proc.returncode != 0
    assert "config: (top level): unknown key ('domainz' was unexpected)" in proc.stdout + proc.stderr


def test_tiny_run_end_to_end(tmp_path, mirror):
    cfg = tmp_path / "tiny.yaml"
    # Code and audio have their own end-to-end tests (tests/code, tests/audio); this one keeps CI time down.
    cfg.write_text(yaml.safe_dump({"domains": ["medical", "genomics"],
                                   "medical": {"datasets": ["ROSMAP", "BRCA"], "seeds": [0],
                                               "model": {"embed_dim": 8, "head_dim": 8},
                                               "train": {"epochs": 3, "val_every": 1},
                                               "mogonet": {"hidden_dims": [8], "pretrain_epochs": 2, "epochs": 3}}}))
    proc = _snakemake(tmp_path, "--cores", "2", "--configfile", str(REPO / "config" / "test.yaml"), str(cfg), mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader((tmp_path / "results/medical/table.tsv").open(), delimiter="\t"))
    ours = {(r["dataset"], r["method"]): r for r in rows if "(ours)" in r["method"]}
    assert 0 <= float(ours["ROSMAP", "M3CoL (ours)"]["accuracy"]) <= 1
    assert 0 <= float(ours["ROSMAP", "MOGONET (ours)"]["accuracy"]) <= 1
    # BRCA's five largest files are not in the mirror: reported with their URLs, not run, and the run still succeeds.
    brca = ours["BRCA", "all methods (ours)"]["source"]
    assert "not run: missing files" in brca and "1_tr.csv (https://" in brca
    assert any(r["method"] == "M3CoL (paper)" and r["dataset"] == "ROSMAP" for r in rows)
    metrics = json.loads((tmp_path / "results/medical/ROSMAP/m3col/metrics.json").read_text())
    assert {"accuracy", "f1", "auc", "std", "per_seed"} <= set(metrics)
    for fig in ("metrics_vs_paper.png", "training_curves.png"):
        assert (tmp_path / "results/medical/figures" / fig).read_bytes()[:4] == b"\x89PNG"
    again = _snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "test.yaml"), str(cfg), mirror=mirror)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_docs_shows_an_extra_table_only_once_made_and_brings_it_up_to_date(tmp_path):
    """`snakemake docs` never starts the re-split protocol (outside `make run`), but once its table exists the docs
    rule depends on it, so a changed config reruns it before the pages are written."""
    before = _snakemake(tmp_path, "-n", "docs", "--config", "domains=[medical]")
    assert before.returncode == 0, before.stderr
    assert "medical_resplit" not in before.stdout
    table = tmp_path / "results/medical/resplit/table.tsv"
    table.parent.mkdir(parents=True)
    table.write_text("dataset\tmethod\n")
    after = _snakemake(tmp_path, "-n", "docs", "--config", "domains=[medical]")
    assert after.returncode == 0, after.stderr
    assert "medical_resplit" in after.stdout
