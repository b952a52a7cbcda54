"""M3CoL training with DDP over two gloo processes on the CPU (``--compute '{"devices": 2}'``): the stage exits 0,
rank 0 alone writes the outputs, and the history covers every epoch. (The MOGONET baseline refuses several
devices: tests/medical/test_train.py.)"""

from __future__ import annotations

import json

import pandas as pd

from tests.medical.conftest import train

HP = json.dumps({"val_fraction": 0.2, "model": {"embed_dim": 8, "head_dim": 8},
                 "train": {"epochs": 3, "val_every": 1, "checkpoint_every": 1, "selection": "best_val"}})


def test_m3col_trains_with_two_gloo_processes(rosmap_h5ad, tmp_path):
    out = tmp_path / "seed0"
    proc = train(rosmap_h5ad, out, "--hparams", HP, "--threads", "1",
                 "--compute", '{"accelerator": "cpu", "devices": 2}')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Starting with 2 processes" in proc.stderr and "distributed_backend=gloo" in proc.stderr
    # only rank 0 gets past training: one metrics line, one set of outputs, no half-written files
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    run = json.loads((out / "run.json").read_text())
    assert json.loads(lines[0]) == run["metrics"]
    assert run["devices"] == 2 and run["device"] == "cpu" and run["n_test"] == 106
    assert all(0.0 <= run["metrics"][k] <= 1.0 for k in ("accuracy", "f1", "auc"))
    assert run["selection"] == "best_val" and 0 <= run["selected_epoch"] <= 2
    assert len((out / "predictions.tsv").read_text().splitlines()) == 107
    assert not list(out.glob(".*.part"))
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2]
    assert history[["train_total", "val_acc", "val_loss", "lr"]].notna().all().all()
