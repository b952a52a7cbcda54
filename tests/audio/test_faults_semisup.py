"""Faults in the semi-supervised audio stages: ``semisup.train`` (also self-training's teacher and student) and
``semisup.pretrain`` killed with SIGTERM or SIGKILL (one each) after a checkpoint resume from it and end with exactly the results
of an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from domains.audio.data.prepare import prepare, write_npz
from ssl_core.training import load_checkpoint
from tests.audio.conftest import fsdd_subset
from tests.conftest import REPO
from tests.faults import kill_and_resume

# Tiny model, FSDD's 80-clip subset with a validation split (each validation draws from the global generator too),
# and enough epochs (train: 12 of 10 steps; pretrain: 3 of 100 steps) for a kill to land between checkpoints.
TRAIN_HP = {"model": {"channels": [4, 8]}, "val_fraction": 0.25, "pretrain": {"steps": 0},
            "train": {"steps": 120, "eval_every": 10, "batch_size": 4, "unlabeled_batch": 8},
            "selftrain": {"steps": 60}}
PRETRAIN_HP = {"model": {"channels": [4, 8]}, "pretrain": {"steps": 300, "batch_size": 4, "pool": "run"}}


@pytest.fixture(scope="module")
def features(tmp_path_factory, audio_mirror) -> Path:
    d = tmp_path_factory.mktemp("fsdd")
    out = d / "fsdd.npz"
    write_npz(out, prepare("fsdd", fsdd_subset(audio_mirror, d / "fsdd", n=80), {}))
    return out


def _train_cmd(features: Path, method: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "domains.audio.semisup.train", "--features", str(features), "--dataset", "fsdd",
            "--method", method, "--fold", "0", "--seed", "0", "--out", str(out), "--hparams", json.dumps(TRAIN_HP),
            "--threads", "1", "--no-progress"]


def _pretrain_cmd(features: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "domains.audio.semisup.pretrain", "--features", str(features), "--dataset", "fsdd",
            "--fold", "0", "--seed", "0", "--out", str(out), "--hparams", json.dumps(PRETRAIN_HP), "--threads", "1",
            "--no-progress"]


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(ckpt)["state_dict"]


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference(features, tmp_path_factory):
    """Uninterrupted runs, made once and compared with every killed one."""
    root = tmp_path_factory.mktemp("reference")
    made = {}

    def get(kind: str) -> Path:
        if kind not in made:
            out = root / kind
            _run(_pretrain_cmd(features, out) if kind == "pretrain" else _train_cmd(features, kind, out))
            made[kind] = out
        return made[kind]

    return get


# One signal per domain (the other is sent in another domain's fault test; both reach the same harness code).
@pytest.mark.parametrize("method,sig", [("fixmatch_mixup", signal.SIGTERM), ("selftrain_mixup", signal.SIGKILL)],
                         ids=["fixmatch_mixup-SIGTERM", "selftrain_mixup-SIGKILL"])
def test_killed_training_resumes_to_the_uninterrupted_result(features, reference, tmp_path, method, sig):
    ref = reference(method)
    out = tmp_path / "run"
    # selftrain_mixup: killed while the student trains; the rerun trains the finished teacher again (never resumed,
    # deterministic) and resumes the student
    kill_and_resume(_train_cmd(features, method, out), out / "checkpoints" / "last.ckpt", sig, out / "result.json")
    got, want = (json.loads((d / "result.json").read_text()) for d in (out, ref))
    keys = ["test_error", "val_error", "n_labelled", "n_val", "steps"]
    if method == "selftrain_mixup":
        keys += ["teacher_test_error", "teacher_val_error", "n_pseudo", "pseudo_label_accuracy"]
    assert {k: got[k] for k in keys} == {k: want[k] for k in keys} and got["n_val"] > 0
    assert got["resumed_at_epoch"] is not None and want["resumed_at_epoch"] is None
    assert (out / "history.csv").read_text() == (ref / "history.csv").read_text()  # every epoch's losses, exactly
    assert _same_weights(_weights(out / "checkpoints" / "last.ckpt"), _weights(ref / "checkpoints" / "last.ckpt"))


@pytest.mark.parametrize("sig", [signal.SIGKILL], ids=["SIGKILL"])
def test_killed_pretraining_resumes_to_the_uninterrupted_trunk(features, reference, tmp_path, sig):
    ref = reference("pretrain")
    out = tmp_path / "pretrain"
    kill_and_resume(_pretrain_cmd(features, out), out / "checkpoints" / "last.ckpt", sig, out / "trunk.pt")
    got, want = (json.loads((d / "pretrain.json").read_text()) for d in (out, ref))
    assert got["steps"] == want["steps"] == 300 and got["loss_first_last"] == want["loss_first_last"]
    assert got["settings"] == want["settings"] and got["resumed_at_epoch"] is not None
    assert _same_weights(torch.load(out / "trunk.pt", weights_only=True), torch.load(ref / "trunk.pt", weights_only=True))
