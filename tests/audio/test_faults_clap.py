"""Interrupted CLAP training (``python -m domains.audio.clap.train``): killed with SIGTERM after its
first checkpoint and rerun, it resumes and ends with exactly the model of an uninterrupted run (tiny plain stage
on real clips, with mixup so that torch's global RNG is part of what a resume must restore)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from domains.audio.clap import train as clap_train
from tests.audio.test_clap_pipeline import TINY, captions, esc50_meta  # noqa: F401 (fixtures)
from tests.faults import kill_and_resume

# 20 steps in 10 epochs of 2: the first checkpoint comes early, the run goes on long enough to be killed
HP = json.dumps({**TINY, "train": {**TINY["train"], "mixup_alpha": 0.3, "stages": {"plain": {"steps": 20}}}})


def _args(meta: Path, captions: Path, out: Path) -> list[str]:
    return ["--stage", "plain", "--meta", str(meta), "--captions", str(captions), "--out", str(out),
            "--hparams", HP, "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def uninterrupted(esc50_meta, captions, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clap_faults") / "plain"
    clap_train.main(_args(esc50_meta, captions, out))
    return out


# One signal per domain (the other is sent in another domain's fault test; both reach the same harness code).
@pytest.mark.parametrize("sig", [signal.SIGTERM], ids=["SIGTERM"])
def test_killed_training_resumes_to_the_uninterrupted_model(sig, esc50_meta, captions, uninterrupted, tmp_path):
    out = tmp_path / "plain"
    cmd = [sys.executable, "-m", "domains.audio.clap.train", *_args(esc50_meta, captions, out)]
    resumed = kill_and_resume(cmd, out / "checkpoints" / "last.ckpt", sig, out / "model.pt")
    assert "resuming" in resumed.stderr
    ours, ref = (torch.load(d / "model.pt", weights_only=False)["state_dict"] for d in (out, uninterrupted))
    assert ours.keys() == ref.keys()
    assert all(torch.equal(ours[k], ref[k]) for k in ref)
    run, ref_run = (json.loads((d / "run.json").read_text()) for d in (out, uninterrupted))
    assert run["resumed_at_epoch"] is not None and ref_run["resumed_at_epoch"] is None
    assert (run["final_loss"], run["final_temperature"]) == (ref_run["final_loss"], ref_run["final_temperature"])
    history, ref_history = (pd.read_csv(d / "history.csv") for d in (out, uninterrupted))
    assert len(ref_history) == 10 and list(ref_history["step"]) == list(range(2, 21, 2))
    pd.testing.assert_frame_equal(history, ref_history)
