"""The audio workflow as a user runs it (FSDD only, tiny semi-supervised config, three methods): fetch from the mirror, prepare, every semi-supervised
method, metrics, figure and table; then an up-to-date rerun, a forced rerun of one training job and a rerun after a
training setting was edited; and a dry run of the default config."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import torch
import yaml

from ssl_core.training import load_checkpoint
from tests.audio.test_semisup import TINY
from tests.conftest import REPO
from tests.faults import restarted_with_reason
from tests.test_workflow import _snakemake

SUPERVISED = "results/audio/semisup/fsdd/supervised_10/fold0_seed0"
SUPERVISED_LOG = "logs/audio/semisup/fsdd_supervised_10_fold0_seed0.log"
METRIC_KEYS = ("test_error", "val_error", "n_labelled", "n_val", "n_test", "steps")


def _trained(run_dir):
    """A training job's metrics and final weights."""
    result = json.loads((run_dir / "result.json").read_text())
    return ({k: result[k] for k in METRIC_KEYS}, (run_dir / "history.csv").read_text(),
            load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["state_dict"])


def _same(a, b) -> bool:
    return a[:2] == b[:2] and a[2].keys() == b[2].keys() and all(torch.equal(a[2][k], b[2][k]) for k in a[2])


def _config(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"domains": ["audio"], "audio": {
        "data": {"datasets": ["fsdd"]},
        "clap": {"enabled": False},
        "semisup": {**TINY, "datasets": ["fsdd"], "methods": ["supervised_10", "fixmatch_mixup", "selftrain_mixup"],
                "fsdd": {"folds": [0], "seeds": [0], "time_pool": 1},
                "dataset_overrides": {"fsdd": {"pretrain": {"steps": 2}}}}}}))  # FSDD's default does not pretrain
    return cfg


@pytest.mark.slow
def test_audio_tiny_run_end_to_end(tmp_path, audio_mirror):
    cfg = _config(tmp_path)
    proc = _snakemake(tmp_path, "--cores", "2", "--configfile", str(cfg), mirror=audio_mirror, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    status = json.loads((tmp_path / "resources/audio/fsdd.fetch.json").read_text())
    assert status["clips"] == 3000 and status["origin"] == "mirror"
    assert "fsdd: used 3000 of 3000 clips" in (tmp_path / "logs/audio/prepare_fsdd.log").read_text()
    pretrain = json.loads((tmp_path / "results/audio/semisup/fsdd/pretrain/fold0_seed0/pretrain.json").read_text())
    trained = json.loads((tmp_path / "results/audio/semisup/fsdd/fixmatch_mixup/fold0_seed0/result.json").read_text())
    assert pretrain["steps"] == trained["pretrain_steps"] == 2  # FixMatch + mixup started from the shared trunk
    m = json.loads((tmp_path / "results/audio/semisup/fsdd/metrics.json").read_text())
    assert set(m["error_rate"]) == {"supervised_10", "fixmatch_mixup", "selftrain_mixup"}
    selftrained = json.loads((tmp_path / "results/audio/semisup/fsdd/selftrain_mixup/fold0_seed0/result.json").read_text())
    assert selftrained["teacher_test_error"] == m["error_rate"]["supervised_10"]["mean"]  # its teacher is that run
    assert selftrained["n_pseudo"] > 0 and selftrained["pretrain_steps"] == 0  # pseudo-labels, no i-Mix trunk
    assert set(m["minus_supervised_10"]) == {"fixmatch_mixup", "selftrain_mixup"}
    for e in m["error_rate"].values():
        assert 0 <= e["mean"] <= 1 and e["n_runs"] == 1 and e["n_test"] == 300
    rows = list(csv.DictReader((tmp_path / "results/audio/table.tsv").open(), delimiter="\t"))
    assert {r["method"] for r in rows} >= {"supervised, 10 % labels (ours)", "FixMatch + mixup (ours)"}
    assert (tmp_path / "results/audio/figures/semisup_error_rates.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "results/audio/clap").exists()  # part A switched off
    again = _snakemake(tmp_path, "-n", "--configfile", str(cfg), mirror=audio_mirror)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    # snakemake -f on one training job: trained again from scratch (a finished run is never resumed) to the same
    # metrics and weights; the outputs that used it are still there.
    before = _trained(tmp_path / SUPERVISED)
    forced = _snakemake(tmp_path, "-f", f"{SUPERVISED}/result.json", "--cores", "1", "--configfile", str(cfg),
                        mirror=audio_mirror, timeout=600)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "belongs to a finished run" in (tmp_path / SUPERVISED_LOG).read_text()
    assert _same(_trained(tmp_path / SUPERVISED), before)
    for kept in ("results/audio/semisup/fsdd/metrics.json", "results/audio/table.tsv",
                 "results/audio/semisup/fsdd/selftrain_mixup/fold0_seed0/result.json"):
        assert (tmp_path / kept).is_file()

    # An edited training setting: the job trains from scratch (its log names the key) and ends where the stage, run
    # directly with the new setting into a fresh directory, ends.
    edit = tmp_path / "lr.yaml"
    edit.write_text(yaml.safe_dump({"audio": {"semisup": {"train": {"lr": 0.01}}}}))
    edited = _snakemake(tmp_path, f"{SUPERVISED}/result.json", "--cores", "1", "--configfile", str(cfg), str(edit),
                        mirror=audio_mirror, timeout=600)
    assert edited.returncode == 0, edited.stderr[-3000:]
    assert restarted_with_reason(tmp_path / SUPERVISED_LOG, "train.lr")
    fresh = subprocess.run([sys.executable, "-m", "domains.audio.semisup.train", "--features",
                            str(tmp_path / "results/audio/features/fsdd.npz"), "--dataset", "fsdd", "--method",
                            "supervised_10", "--fold", "0", "--seed", "0", "--out", str(tmp_path / "fresh"),
                            "--config", str(cfg), "--config", str(edit), "--threads", "1", "--no-progress"],
                           capture_output=True, text=True, cwd=REPO)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    new = _trained(tmp_path / SUPERVISED)
    assert _same(new, _trained(tmp_path / "fresh")) and not _same(new, before)


def test_dry_run_default_audio_config(tmp_path):
    proc = _snakemake(tmp_path, "-n", "--config", "domains=[audio]")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for rule in ("audio_fetch", "audio_prepare", "audio_semisup_pretrain", "audio_semisup_train", "audio_semisup_evaluate",
                 "audio_semisup_figures", "audio_table"):
        assert rule in out
    # 7 methods x 5 ESC-10 folds x 3 seeds + 6 methods (no imix_finetune: FSDD does not pretrain) x 3 FSDD seeds
    assert any(line.split()[:2] == ["audio_semisup_train", "123"] for line in out.splitlines())
    # one pretraining per ESC-10 fold and seed, shared by the four methods that use it; none for FSDD
    assert any(line.split()[:2] == ["audio_semisup_pretrain", "15"] for line in out.splitlines())
