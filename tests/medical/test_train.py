"""The M3CoL model and the training stage's command line on real ROSMAP data (a few epochs)."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics.pairwise import cosine_distances

from domains.medical.m3col.evaluate import aggregate
from domains.medical.m3col.model import M3CoL, M3CoLConfig
from domains.medical.m3col.mogonet import class_share_weights, edge_threshold, patient_graphs
from domains.medical.m3col.train import main as train_main, train_one
from domains.medical.settings import STAGE_PARTS
from domains.medical.m3col.splits import split_indices
from ssl_core.config import deep_merge, resolve_section
from tests.medical.conftest import train as _train

SMALL = json.dumps({"model": {"embed_dim": 16, "head_dim": 16}, "train": {"epochs": 4, "val_every": 2}})


def test_model_loss_terms_and_gradients():
    torch.manual_seed(0)
    cfg = M3CoLConfig(input_dims=(5, 6, 7), n_classes=3, embed_dim=8, head_dim=8)
    model = M3CoL(cfg)
    views = [torch.randn(10, d) for d in cfg.input_dims]
    y = torch.randint(0, 3, (10,))
    for use_mixup in (True, False):
        out = model.loss(views, y, use_mixup)
        expected = out["fusion_ce"] + out["unimodal_ce"] + 0.1 * out["contrastive"]
        assert torch.allclose(out["total"], expected)
        model.zero_grad()
        out["total"].backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert model(views).shape == (10, 3)


def test_split_never_puts_test_rows_in_fit_or_val(rosmap_h5ad):
    a = ad.read_h5ad(rosmap_h5ad)
    parts = split_indices(a, seed=3, val_fraction=0.2, test_fraction=0.3)
    test_rows = set(np.flatnonzero(a.obs["split"].to_numpy() == "test"))
    assert set(parts["test"]) == test_rows
    assert not (set(parts["fit"]) | set(parts["val"])) & test_rows
    assert len(parts["val"]) == 49


def test_train_cli_outputs_and_rerun_with_another_setting(rosmap_h5ad, tmp_path):
    out = tmp_path / "seed0"
    proc = _train(rosmap_h5ad, out, "--hparams", SMALL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert run["n_test"] == 106 and run["selected_epoch"] == 3
    assert 0.0 <= run["metrics"]["accuracy"] <= 1.0 and set(run["metrics"]) == {"accuracy", "f1", "auc"}
    assert run["device"] == "cpu" and run["devices"] == 1 and run["precision"] == "32-true"
    assert run["resumed_at_epoch"] is None and run["epoch_seconds_median"] > 0
    pred = (out / "predictions.tsv").read_text().splitlines()
    assert len(pred) == 107
    assert (out / "checkpoints" / "last.ckpt").is_file()
    # More epochs in the same directory: the finished checkpoint of 4 epochs is not continued; 6 epochs from scratch.
    more = json.dumps({"model": {"embed_dim": 16, "head_dim": 16}, "train": {"epochs": 6, "val_every": 2}})
    proc = _train(rosmap_h5ad, out, "--hparams", more)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "config.train.epochs: 4 -> 6" in proc.stderr and "training from scratch" in proc.stderr
    assert "Restoring states" not in proc.stderr
    assert json.loads((out / "run.json").read_text())["selected_epoch"] == 5
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == list(range(6))


def test_mogonet_refuses_several_devices(rosmap_h5ad, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--data", str(rosmap_h5ad), "--seed", "0", "--out", str(tmp_path / "mg"), "--method", "mogonet",
                    "--compute", '{"accelerator": "cpu", "devices": 2}'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: config: compute.devices: 2 devices asked for, but the MOGONET baseline")
    assert len(err.splitlines()) == 1 and not (tmp_path / "mg" / "run.json").exists()


def test_mogonet_trains_on_every_training_row_pretraining_then_joint(rosmap_h5ad, tmp_path):
    hp = json.dumps({"mogonet": {"hidden_dims": [8], "pretrain_epochs": 2, "epochs": 3}})
    proc = _train(rosmap_h5ad, tmp_path / "mg", "--method", "mogonet", "--hparams", hp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads((tmp_path / "mg" / "run.json").read_text())
    assert run["method"] == "mogonet" and run["selection"] == "last" and run["selected_epoch"] == 4
    assert (run["n_fit"], run["n_val"], run["n_test"]) == (245, 0, 106)  # MOGONET's whole training split
    assert len((tmp_path / "mg" / "predictions.tsv").read_text().splitlines()) == 107
    history = pd.read_csv(tmp_path / "mg" / "history.csv")
    assert history["epoch"].tolist() == list(range(5))
    # the VCDN trains only after the GCNs' pretraining; each phase has its learning rate
    assert history["train_fusion_ce"].isna().tolist() == [True, True, False, False, False]
    assert history["lr"].tolist() == pytest.approx([0.001, 0.001, 0.0005, 0.0005, 0.0005])


def test_mogonet_never_reads_a_test_label(rosmap_h5ad, tmp_path):
    adata = ad.read_h5ad(rosmap_h5ad)
    hp = deep_merge(resolve_section(("medical",), None, None, "ROSMAP", parts=STAGE_PARTS["train_mogonet"]),
                    {"mogonet": {"hidden_dims": [8], "pretrain_epochs": 2, "epochs": 2}})
    poisoned = adata.copy()
    test = poisoned.obs["split"].to_numpy() == "test"
    y = poisoned.obs["label"].to_numpy().copy()
    y[test] = 1 - y[test]
    poisoned.obs["label"] = y
    for name, data in (("a", adata), ("b", poisoned)):
        train_one(data, hp, 0, tmp_path / name, progress=False, method="mogonet")
    probs = [pd.read_csv(tmp_path / d / "predictions.tsv", sep="\t").filter(like="prob_") for d in "ab"]
    pd.testing.assert_frame_equal(*probs)


def test_mogonet_graph_threshold_keeps_edges_per_node():
    x = np.random.default_rng(0).random((40, 6))
    dist = cosine_distances(x)
    for k in (2, 5):
        # MOGONET's adj_parameter: k pairs per patient on average, self-pairs included (the k*n-th smallest distance)
        kept = int((dist <= edge_threshold(dist, k)).sum())
        assert k * 40 < kept <= k * 40 + 2  # + 2: the matrix is symmetric, so pairs are kept two by two


def test_mogonet_graphs_against_a_loop_reference():
    rng = np.random.default_rng(1)
    x = rng.random((25, 4))
    train = np.sort(rng.choice(25, 17, replace=False))
    k = 3
    train_adj, full_adj = (a.to_dense().double().numpy() for a in patient_graphs(x, train, k))
    dist = cosine_distances(x)
    threshold = edge_threshold(dist[np.ix_(train, train)], k)

    def reference(rows: np.ndarray, allowed) -> np.ndarray:
        n = len(rows)
        adj = np.eye(n)
        for i in range(n):
            for j in range(n):
                d = dist[rows[i], rows[j]]
                if i != j and allowed(rows[i], rows[j]) and (d <= threshold or dist[rows[j], rows[i]] <= threshold):
                    adj[i, j] = 1 - d
        return adj / adj.sum(axis=1, keepdims=True)

    is_train = np.isin(np.arange(25), train)
    np.testing.assert_allclose(train_adj, reference(train, lambda i, j: True), atol=1e-6)
    # prediction graph: only edges joining a training and a test patient
    np.testing.assert_allclose(full_adj, reference(np.arange(25), lambda i, j: is_train[i] != is_train[j]), atol=1e-6)
    assert np.allclose(class_share_weights(np.array([0, 0, 0, 1]), 3), [0.75, 0.75, 0.75, 0.25])


def test_history_records_the_learning_rate_per_epoch(rosmap_h5ad, tmp_path):
    # StepLR every 2 epochs by 0.5: the curves figure's learning-rate row reads this column.
    hp = json.dumps({"model": {"embed_dim": 8, "head_dim": 8},
                     "train": {"epochs": 4, "val_every": 2, "lr": 0.004, "lr_step": 2, "lr_gamma": 0.5}})
    proc = _train(rosmap_h5ad, tmp_path / "m3", "--hparams", hp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    history = pd.read_csv(tmp_path / "m3" / "history.csv")
    assert history["lr"].tolist() == pytest.approx([0.004, 0.004, 0.002, 0.002])


def test_same_seed_same_metrics(rosmap_h5ad, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _train(rosmap_h5ad, a, "--hparams", SMALL).returncode == 0
    assert _train(rosmap_h5ad, b, "--hparams", SMALL).returncode == 0
    assert json.loads((a / "run.json").read_text())["metrics"] == json.loads((b / "run.json").read_text())["metrics"]


@pytest.mark.parametrize(
    "hparams, message",
    [
        ('{"train": {"epochz": 3}}', "config: medical.train: unknown key ('epochz' was unexpected)"),
        ('{"train": {"epochs": "many"}}', "config: medical.train.epochs: 'many' is not of type 'integer'"),
        ('{"train": {"batch_size": -8}}', "config: medical.train.batch_size: -8 is less than the minimum of 1"),
        ('{"train": ', "--hparams: not valid JSON"),
    ],
)
def test_bad_config_one_line_error_no_output(rosmap_h5ad, tmp_path, capsys, hparams, message):
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--data", str(rosmap_h5ad), "--seed", "0", "--out", str(tmp_path / "x"), "--hparams", hparams])
    assert exit_info.value.code == 2
    lines = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "x").exists()


def test_aggregate_mean_std_per_seed():
    runs = [
        {"dataset": "ROSMAP", "method": "m3col", "seed": s, "metrics": {"accuracy": acc}, "selection": "last", "epochs": 3,
         "fit_seconds": 1.0, "epoch_seconds_median": 0.1}
        for s, acc in [(1, 0.8), (0, 0.6)]
    ]
    m = aggregate(runs)
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["std"]["accuracy"] == pytest.approx(np.std([0.6, 0.8], ddof=1))
    assert m["per_seed"]["accuracy"] == [0.6, 0.8] and m["seeds"] == [0, 1]
