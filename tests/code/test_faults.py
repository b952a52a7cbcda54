"""Faults: a CoCoSoDa training job killed with SIGKILL resumes from its last checkpoint (model, queues,
optimiser, RNG states and the augmentation generator) and ends with exactly the weights and history of an
uninterrupted run."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
import torch

from domains.code.cocosoda.train import train
from ssl_core.config import deep_merge
from tests.faults import kill_and_resume

# Several short epochs, so that a checkpoint (written at every epoch's end) appears well before the last one.
LONGER = {"train": {"epochs": 6, "steps_per_epoch": 3}}


def _cmd(tiny, out: Path) -> list[str]:
    d, hp = tiny
    return [sys.executable, "-m", "domains.code.cocosoda.train", "--corpus", str(d / "corpus"), "--tokenizer",
            str(d / "tok.json"), "--variant", "cocosoda", "--out", str(out), "--hparams",
            json.dumps(deep_merge(hp, LONGER)), "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory) -> Path:
    """The uninterrupted run (in this process: the command line resolves the same settings)."""
    d, hp = tiny
    out = tmp_path_factory.mktemp("reference")
    train(d / "corpus", d / "tok.json", "cocosoda", deep_merge(hp, LONGER), out, threads=1, progress=False)
    return out


def _weights(path: Path) -> dict[str, torch.Tensor]:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return {f"{tower}.{k}": v for tower in ("query", "code") for k, v in blob[tower].items()}


# One signal per domain (the other is sent in another domain's fault test; both reach the same harness code).
@pytest.mark.parametrize("sig", [signal.SIGKILL], ids=["SIGKILL"])
def test_killed_training_resumes_and_matches_uninterrupted_run(tiny, reference, tmp_path, sig):
    out = tmp_path / "cocosoda"
    resumed = kill_and_resume(_cmd(tiny, out), out / "checkpoints" / "last.ckpt", sig, out / "run.json")
    assert "training from scratch" not in resumed.stderr
    run, ref = json.loads((out / "run.json").read_text()), json.loads((reference / "run.json").read_text())
    assert run["resumed_at_epoch"] is not None
    assert (run["final_loss"], run["final_valid_mrr"]) == (ref["final_loss"], ref["final_valid_mrr"])
    assert (out / "history.csv").read_text() == (reference / "history.csv").read_text()  # all six epochs
    new, old = _weights(out / "encoder.pt"), _weights(reference / "encoder.pt")
    assert new.keys() == old.keys() and all(torch.equal(new[k], old[k]) for k in old)
    assert all(torch.equal(a, b) for a, b in zip(_weights(out / "encoder_init.pt").values(),
                                                 _weights(reference / "encoder_init.pt").values()))
