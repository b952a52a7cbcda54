"""An interrupted genomics training job (SIGTERM as at a SLURM time limit; SIGKILL is sent in other domains),
rerun with the same command, resumes from its last epoch checkpoint and ends with the weights and final loss of an
uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO
from tests.faults import kill_and_resume
from tests.genomics.conftest import hparams_json

# 12 epochs of 2 steps (the 2 tiny shards in turn): the first checkpoint comes long before the end.
HP = {"train": {"phase1_epochs": 6, "phase2_epochs": 6}}


def _cmd(tokens, out):
    return [sys.executable, "-m", "domains.genomics.dnabert_s.train", "--tokens", str(tokens), "--out", str(out),
            "--threads", "1", "--no-progress", "--hparams", hparams_json(**HP)]


def _result(out):
    state = torch.load(out / "encoder.pt", weights_only=True)["state_dict"]
    return state, json.loads((out / "run.json").read_text())["final_loss"]


@pytest.fixture(scope="module")
def uninterrupted(tiny_tokens, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    proc = subprocess.run(_cmd(tiny_tokens, out), capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _result(out)


# One signal per domain (the other is sent in another domain's fault test; both reach the same harness code).
@pytest.mark.parametrize("sig", [signal.SIGTERM], ids=["sigterm"])
def test_killed_training_resumes_to_the_uninterrupted_result(sig, tiny_tokens, uninterrupted, tmp_path):
    out = tmp_path / "train"
    resumed = kill_and_resume(_cmd(tiny_tokens, out), out / "checkpoints" / "last.ckpt", sig, out / "run.json")
    run = json.loads((out / "run.json").read_text())
    assert run["resumed_at_epoch"] is not None and "resuming" in resumed.stderr
    state, final_loss = _result(out)
    ref_state, ref_loss = uninterrupted
    assert state.keys() == ref_state.keys() and all(torch.equal(state[k], ref_state[k]) for k in state)
    assert final_loss == ref_loss
    assert (out / "history.csv").read_text().count("\n") == 13  # header + every epoch, also those before the kill
