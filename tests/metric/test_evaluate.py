"""Retrieval metrics against pytorch-metric-learning's AccuracyCalculator and loop references; the evaluate,
table and figures stages on synthetic embeddings."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from domains.metric.metrix import evaluate as ev
from domains.metric.metrix import figures, table
from ssl_core.losses.metrix import metrix_utilization


def _clustered(seed: int, classes: int = 5, per: int = 6, dim: int = 8, noise: float = 0.8):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), per)
    z = rng.normal(size=(classes, dim))[y] + noise * rng.normal(size=(len(y), dim))
    return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32), y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recall_at_1_and_map_at_r_equal_pml(seed):
    from pytorch_metric_learning.distances import CosineSimilarity
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    z, y = _clustered(seed, classes=4 + seed, per=5 + seed)
    calc = AccuracyCalculator(include=("precision_at_1", "mean_average_precision_at_r"), k="max_bin_count",
                              knn_func=CustomKNN(CosineSimilarity()))
    t = torch.from_numpy(z).double()
    ref = calc.get_accuracy(t, torch.from_numpy(y), ref_includes_query=True)
    assert ev.recall_at_k(z, y, [1])[1] == pytest.approx(ref["precision_at_1"], abs=1e-9)
    assert ev.map_at_r(z, y) == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-6)
    assert 0 < ev.map_at_r(z, y) < 1  # not a degenerate case


def test_recall_at_k_and_utilization_equal_loop_references():
    z, y = _clustered(3, noise=1.5)
    sims = z.astype(np.float64) @ z.T.astype(np.float64)
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1)
    got = ev.recall_at_k(z, y, [1, 2, 4, 8])
    for k in (1, 2, 4, 8):
        assert got[k] == pytest.approx(np.mean([(y[order[i, :k]] == y[i]).any() for i in range(len(y))]))
    assert got[1] < got[8]
    train = np.random.default_rng(5).normal(size=(17, 8))
    u = ev.utilization(z, train)
    assert u == pytest.approx(float(metrix_utilization(torch.from_numpy(z).double(), torch.from_numpy(train))), rel=1e-9)
    assert ev.utilization(z, np.concatenate([train, z[:3]])) < u  # more references: lower utilization


def _embeddings(path, seed, shift):
    z, y = _clustered(seed)
    bad = np.random.default_rng(seed + 10).normal(size=z.shape).astype(np.float32)
    bad /= np.linalg.norm(bad, axis=1, keepdims=True)
    arrays = {"methods": np.array(json.dumps(["untrained", "contrastive", "contrastive + Metrix/feature"])),
              "y_test": y, "y_train": y}
    for i, emb in enumerate([bad, z, z if shift else bad]):
        arrays[f"m{i:02d}/test"] = emb
        arrays[f"m{i:02d}/train"] = emb.astype(np.float16)
        arrays[f"m{i:02d}/mixed"] = emb[:4].astype(np.float16)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def test_evaluate_table_and_figures(tmp_path):
    paths = [_embeddings(tmp_path / f"seed{s}" / "embeddings.npz", s, shift=s != 1) for s in range(3)]
    out = tmp_path / "metrics.json"
    ev.main(["--dataset", "esc50", "--embeddings", *map(str, paths), "--out", str(out)])
    m = json.loads(out.read_text())
    assert m["seeds"] == [0, 1, 2]
    r1 = m["methods"]["contrastive"]["recall_at_1"]
    assert set(r1["per_seed"]) == {"0", "1", "2"} and r1["mean"] == pytest.approx(np.mean(list(r1["per_seed"].values())))
    assert m["methods"]["untrained"]["recall_at_1"]["mean"] < r1["mean"]
    paired = m["paired"]["contrastive + Metrix/feature"]
    assert paired["vs"] == "contrastive" and paired["seeds_better"] == 0 and paired["recall_at_1_diff_mean"] < 0
    assert m["methods"]["contrastive"]["utilization"]["mean"] == pytest.approx(0, abs=1e-3)  # test = train here
    tsv = tmp_path / "table.tsv"
    table.main(["--metrics", str(out), "--out", str(tsv)])
    rows = list(csv.DictReader(tsv.open(), delimiter="\t"))
    ours = {r["method"]: r for r in rows if r["dataset"] == "esc50"}
    assert ours["untrained"]["source"] == "baseline" and ours["contrastive"]["source"] == "ours"
    assert float(ours["contrastive"]["recall_at_1"]) == pytest.approx(r1["mean"], abs=1e-4)
    for col in ("recall_at_1_std", "recall_at_8", "map_at_r", "utilization", "utilization_mixed", "source"):
        assert col in rows[0]
    paper = {r["method"]: r for r in rows if r["source"] == "paper"}
    assert float(paper["contrastive + Metrix/feature"]["recall_at_1"]) == pytest.approx(0.674)
    figures.main(["--metrics", str(out), "--embeddings", str(paths[0]), "--recall", str(tmp_path / "r.png"),
                  "--projection", str(tmp_path / "p.png")])
    assert (tmp_path / "r.png").stat().st_size > 1000 and (tmp_path / "p.png").stat().st_size > 1000


def test_evaluate_refuses_a_missing_or_foreign_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        ev.main(["--dataset", "esc50", "--embeddings", str(tmp_path / "none.npz"), "--out", str(tmp_path / "m.json")])
    assert "no such file" in capsys.readouterr().err
    other = tmp_path / "seed0.npz"
    with open(other, "wb") as fh:
        np.savez(fh, x=np.zeros(3))
    with pytest.raises(SystemExit):
        ev.main(["--dataset", "esc50", "--embeddings", str(other), "--out", str(tmp_path / "m.json")])
    assert "not an embeddings file" in capsys.readouterr().err and not (tmp_path / "m.json").exists()
