"""Reruns of a finished medical training job through Snakemake, on a tiny run (ROSMAP, one seed, M3CoL):
``snakemake -f`` recomputes the job to the same metrics and keeps the results that depend on it; a config edit of
a training setting reruns the job from scratch (its log names the edited key) and ends with the metrics of a fresh
run with the new setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.faults import restarted_with_reason
from tests.test_workflow import _snakemake

TEST_CONFIG = REPO / "config" / "test.yaml"
TINY = {"domains": ["medical"],
        "medical": {"datasets": ["ROSMAP"], "seeds": [0], "methods": ["m3col"],
                    "model": {"embed_dim": 8, "head_dim": 8}, "train": {"epochs": 3, "val_every": 1}}}
JOB = Path("results/medical/ROSMAP/m3col/seed0")
LOG = Path("logs/medical/ROSMAP/m3col/train_seed0.log")
DEPENDENT = ["results/medical/ROSMAP/m3col/metrics.json", "results/medical/table.tsv",
             "results/medical/figures/training_curves.png"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory, mirror) -> tuple[Path, Path, Path]:
    """(work directory, tiny config, mirror) after a finished tiny run."""
    work = tmp_path_factory.mktemp("workflow")
    tiny = work / "tiny.yaml"
    tiny.write_text(yaml.safe_dump(TINY))
    proc = _snakemake(work, "--cores", "1", "--configfile", str(TEST_CONFIG), str(tiny), mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, tiny, mirror


def _metrics(directory: Path) -> dict:
    return json.loads((directory / "run.json").read_text())["metrics"]


def test_forced_rerun_recomputes_the_same_metrics(finished):
    work, tiny, mirror = finished
    before = _metrics(work / JOB)
    predictions = (work / JOB / "predictions.tsv").read_text()
    proc = _snakemake(work, "--cores", "1", "--configfile", str(TEST_CONFIG), str(tiny), "-f", str(JOB / "run.json"),
                      mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (work / LOG).read_text()
    assert "belongs to a finished run" in log and "training from scratch" in log
    assert _metrics(work / JOB) == before
    assert (work / JOB / "predictions.tsv").read_text() == predictions
    for path in DEPENDENT:
        assert (work / path).is_file(), path


def test_config_edit_retrains_from_scratch_like_a_fresh_run(finished, tmp_path):
    work, tiny, mirror = finished
    edit = tmp_path / "lr.yaml"
    edit.write_text(yaml.safe_dump({"medical": {"train": {"lr": 0.0005}}}))
    configs = [str(TEST_CONFIG), str(tiny), str(edit)]
    proc = _snakemake(work, "--cores", "1", "--configfile", *configs, mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert restarted_with_reason(work / LOG, "train.lr")
    jobs = proc.stdout + proc.stderr
    assert "medical_train" in jobs and "medical_prepare" not in jobs  # the data do not depend on the learning rate
    fresh = tmp_path / "fresh"
    direct = subprocess.run(
        [sys.executable, "-m", "domains.medical.m3col.train", "--data", str(work / "results/medical/ROSMAP/data.h5ad"),
         "--method", "m3col", "--seed", "0", "--out", str(fresh), "--no-progress",
         *(arg for config in configs for arg in ("--config", config))],
        capture_output=True, text=True, cwd=REPO)
    assert direct.returncode == 0, direct.stderr[-3000:]
    assert _metrics(work / JOB) == _metrics(fresh)
    per_seed = json.loads((work / DEPENDENT[0]).read_text())["per_seed"]
    assert per_seed["accuracy"] == [_metrics(fresh)["accuracy"]]


def test_mogonet_jobs_train_on_one_device_when_compute_asks_for_more(finished, tmp_path):
    work, tiny, mirror = finished
    edit = tmp_path / "devices.yaml"
    edit.write_text(yaml.safe_dump({"compute": {"devices": 2}, "medical": {"methods": ["m3col", "mogonet"]}}))
    proc = _snakemake(work, "-n", "-p", "--configfile", str(TEST_CONFIG), str(tiny), str(edit), mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    commands = [line for line in (proc.stdout + proc.stderr).splitlines() if "domains.medical.m3col.train" in line]
    m3col = [c for c in commands if "--method m3col" in c]
    mogonet = [c for c in commands if "--method mogonet" in c]
    assert len(m3col) == 1 and '"devices": 2' in m3col[0]
    assert len(mogonet) == 1 and '"devices": 1' in mogonet[0]


def test_seed_limit_trains_a_method_on_the_first_seeds_only(finished, tmp_path):
    work, tiny, mirror = finished
    edit = tmp_path / "limit.yaml"
    edit.write_text(yaml.safe_dump({"medical": {"methods": ["m3col", "mogonet", "logreg"], "seeds": [0, 1, 2],
                                                "seed_limit": {"mogonet": 1}}}))
    proc = _snakemake(work, "-n", "-p", "--configfile", str(TEST_CONFIG), str(tiny), str(edit), mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    commands = [line for line in (proc.stdout + proc.stderr).splitlines() if "domains.medical.m3col.train" in line]
    seeds = {m: sorted(c.split("--seed ")[1].split()[0] for c in commands if f"--method {m}" in c)
             for m in ("m3col", "mogonet", "logreg")}
    assert seeds["mogonet"] == ["0"] and seeds["logreg"] == ["0", "1", "2"]
    assert {"1", "2"} <= set(seeds["m3col"])  # seed 0 too when an earlier test left it out of date


def test_selection_and_resplit_protocol_are_their_own_targets(finished, tmp_path):
    work, tiny, mirror = finished
    edit = tmp_path / "resplit.yaml"
    edit.write_text(yaml.safe_dump({"medical": {"resplit": {"n": 2, "methods": ["m3col", "logreg"]}}}))
    configs = ["--configfile", str(TEST_CONFIG), str(tiny), str(edit)]
    proc = _snakemake(work, "-n", *configs, mirror=mirror)  # the default run: neither selection nor re-splits
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "medical_select" not in proc.stdout and "medical_resplit" not in proc.stdout
    proc = _snakemake(work, "-n", "-p", "medical_resplit", "results/medical/select/ROSMAP.json", *configs,
                      mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = (proc.stdout + proc.stderr).splitlines()
    select = [line for line in lines if "domains.medical.m3col.select" in line]
    train = [line for line in lines if "domains.medical.m3col.train" in line]
    assert len(select) == 3 and sum("--protocol fixed --split 0" in line for line in select) == 1
    assert sorted(line.split("--split ")[1].split()[0] for line in select if "resplit" in line) == ["0", "1"]
    m3col = [line for line in train if "--method m3col" in line]
    assert len(m3col) == 2 and all("--protocol resplit" in line and "--chosen" in line for line in m3col)
    assert "results/medical/resplit/ROSMAP/select/split1.json" in " ".join(m3col)
    logreg = [line for line in train if "--method logreg" in line]
    assert len(logreg) == 2 and not any("--chosen" in line for line in logreg)
    assert any("m3col.table --protocol resplit" in line for line in lines)
    # medical.resplit.datasets names the data sets re-split: without ROSMAP, nothing is trained for it
    edit.write_text(yaml.safe_dump({"medical": {"resplit": {"n": 2, "datasets": ["BRCA"]}}}))
    proc = _snakemake(work, "-n", "-p", "medical_resplit", *configs, mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "--protocol resplit" not in out.split("m3col.table --protocol resplit")[0]
    assert "m3col.table --protocol resplit" in out
