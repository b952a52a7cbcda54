"""The one split mechanism (the fixed split, seeded re-splits), M3CoL's settings chosen by cross-validation inside
the training rows (never reading a test row) and the re-split protocol's stages on a tiny config."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from domains.medical.m3col.evaluate import aggregate
from domains.medical.m3col.select import grid_points, main as select_main, select_on_split
from domains.medical.m3col.splits import split_indices, split_rows
from domains.medical.m3col.table import build_table
from domains.medical.m3col.train import main as train_main
from domains.medical.settings import STAGE_PARTS
from ssl_core.config import deep_merge, resolve_section

TINY = {"model": {"embed_dim": 8, "head_dim": 8}, "train": {"epochs": 2, "val_every": 1},
        "select": {"folds": 2, "grid": {"train.epochs": [1, 2], "m3co.weight": [0.1]}},
        "logreg": {"C": [1.0], "folds": 2, "max_iter": 50}}


def _hp(part: str, **override) -> dict:
    return deep_merge(resolve_section(("medical",), None, json.dumps(TINY), "ROSMAP", parts=STAGE_PARTS[part]),
                      override)


def _without_split(adata: ad.AnnData) -> ad.AnnData:
    pooled = adata.copy()
    pooled.obs["split"] = "all"
    return pooled


def _poisoned(adata: ad.AnnData, test: np.ndarray, labels: bool) -> ad.AnnData:
    """``adata`` with noise for the ``test`` rows' features and, with ``labels``, every test label flipped."""
    poisoned = adata.copy()
    x = np.asarray(poisoned.X, dtype=np.float64).copy()
    x[test] = np.random.default_rng(0).random((len(test), x.shape[1]))
    poisoned.X = x.astype(adata.X.dtype)
    if labels:
        y = poisoned.obs["label"].to_numpy().copy()
        y[test] = 1 - y[test]
        poisoned.obs["label"] = y
    return poisoned


def test_fixed_split_is_the_split_every_method_had_before(rosmap_h5ad):
    adata = ad.read_h5ad(rosmap_h5ad)
    y = adata.obs["label"].to_numpy()
    idx = np.arange(adata.n_obs)
    for data, fixed in ((adata, True), (_without_split(adata), False)):
        for seed in (0, 3):
            # the code before one mechanism: the fixed test files, else a seeded stratified split
            if fixed:
                train, test = idx[adata.obs["split"].to_numpy() == "train"], idx[adata.obs["split"].to_numpy() == "test"]
            else:
                train, test = train_test_split(idx, test_size=0.3, stratify=y, random_state=seed)
            fit, val = train_test_split(train, test_size=0.2, stratify=y[train], random_state=seed)
            parts = split_indices(data, seed, 0.2, 0.3)
            for name, rows in (("fit", fit), ("val", val), ("test", test)):
                np.testing.assert_array_equal(parts[name], np.sort(rows))
    # without validation rows M3CoL, MOGONET and the logistic regression train on the same rows
    assert len(split_indices(adata, 0, 0.0, 0.3)["fit"]) == 245


def test_resplits_are_stratified_with_the_fixed_split_sizes_and_differ_per_index(rosmap_h5ad):
    adata = ad.read_h5ad(rosmap_h5ad)
    y = adata.obs["label"].to_numpy()
    share = np.bincount(y) / len(y)
    tests = []
    for index in range(3):
        train, test = split_rows(adata, "resplit", index, 0.3)
        assert (len(train), len(test)) == (245, 106)  # the fixed split's sizes
        assert not set(train) & set(test) and len(set(train) | set(test)) == adata.n_obs
        assert np.abs(np.bincount(y[test], minlength=2) - share * 106).max() <= 1  # stratified
        tests.append(set(test))
    assert tests[0] != tests[1] != tests[2] != tests[0]
    np.testing.assert_array_equal(split_rows(adata, "resplit", 1, 0.3)[1], sorted(tests[1]))  # seeded
    # a data set without a fixed split: re-split i is the fixed protocol's split of seed i
    pooled = _without_split(adata)
    np.testing.assert_array_equal(split_rows(pooled, "resplit", 2, 0.3)[1], split_rows(pooled, "fixed", 2, 0.3)[1])


def test_a_resplit_the_smallest_class_cannot_support_is_one_error_before_training(rosmap_h5ad, tmp_path, capsys):
    adata = ad.read_h5ad(rosmap_h5ad)
    y = adata.obs["label"].to_numpy()
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:1]])  # class 1 keeps a single row
    data = tmp_path / "one.h5ad"
    adata[np.sort(keep)].copy().write_h5ad(data)
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--data", str(data), "--seed", "0", "--protocol", "resplit", "--out", str(tmp_path / "run"),
                    "--method", "logreg"])
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == [f"error: config: medical.resplit.n: a re-split needs every class in both the training and the "
                     f"test rows; class {adata.uns['classes'][1]!r} has 1 row"]
    assert not (tmp_path / "run" / "run.json").exists()


def test_selection_never_reads_a_test_row(rosmap_h5ad):
    adata = ad.read_h5ad(rosmap_h5ad)
    hp = _hp("select")
    assert grid_points(hp["select"]["grid"]) == [{"train.epochs": 1, "m3co.weight": 0.1},
                                                 {"train.epochs": 2, "m3co.weight": 0.1}]
    # a re-split is stratified by every row's label (the protocol), so there only the test rows' features are noise
    for protocol, index in (("fixed", 0), ("resplit", 1)):
        _, test = split_rows(adata, protocol, index, hp["test_fraction"])
        clean = select_on_split(adata, hp, protocol, index)
        poisoned = select_on_split(_poisoned(adata, test, labels=protocol == "fixed"), hp, protocol, index)
        assert clean["n_train"] == 245 and len(clean["results"]) == 2
        assert all(len(r["fold_accuracy"]) == 2 for r in clean["results"])
        # every fold accuracy, and so the choice, is unchanged when the test rows are poisoned
        assert poisoned["results"] == clean["results"] and poisoned["chosen"] == clean["chosen"]
        best = max(r["accuracy"] for r in clean["results"])
        assert clean["chosen"] == next(r["point"] for r in clean["results"] if r["accuracy"] == best)


def test_a_fold_count_the_smallest_class_cannot_support_is_one_error(rosmap_h5ad, tmp_path, capsys):
    adata = ad.read_h5ad(rosmap_h5ad)
    train = np.flatnonzero(adata.obs["split"].to_numpy() == "train")
    n_min = int(np.bincount(adata.obs["label"].to_numpy()[train].astype(int)).min())
    out = tmp_path / "select.json"
    with pytest.raises(SystemExit) as exit_info:
        select_main(["--data", str(rosmap_h5ad), "--out", str(out), "--hparams",
                     json.dumps({"select": {"folds": n_min + 1}})])
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: config: medical.select.folds: {n_min + 1} folds need")
    assert not out.exists()


def test_resplit_protocol_on_the_tiny_config(rosmap_h5ad, tmp_path):
    """The re-split protocol's stages as its rules call them: nested selection, M3CoL with the chosen settings and
    logistic regression per re-split, then mean, standard error and paired difference over the re-splits."""
    runs: dict[str, list[dict]] = {"m3col": [], "logreg": []}
    hparams = json.dumps({**TINY, "select": {"folds": 2, "grid": {"train.epochs": [1, 2]}}})
    for index in (0, 1):
        record = tmp_path / f"select{index}.json"
        select_main(["--data", str(rosmap_h5ad), "--out", str(record), "--protocol", "resplit", "--split", str(index),
                     "--hparams", hparams, "--no-progress"])
        chosen = json.loads(record.read_text())["chosen"]
        for method in runs:
            out = tmp_path / method / f"split{index}"
            extra = ["--chosen", str(record)] if method == "m3col" else []
            train_main(["--data", str(rosmap_h5ad), "--method", method, "--protocol", "resplit", "--seed", str(index),
                        "--out", str(out), "--hparams", hparams, "--no-progress", *extra])
            runs[method].append(json.loads((out / "run.json").read_text()))
        m3col = runs["m3col"][-1]
        assert m3col["protocol"] == "resplit" and m3col["epochs"] == chosen["train.epochs"]
        assert (m3col["n_fit"], m3col["n_val"], m3col["n_test"]) == (245, 0, 106)
        tests = [pd.read_csv(tmp_path / m / f"split{index}" / "predictions.tsv", sep="\t")["sample"] for m in runs]
        pd.testing.assert_series_equal(*tests)  # every method on the re-split's test rows
    assert set(runs["logreg"][0]) >= {"C", "protocol"} and runs["logreg"][1]["seed"] == 1
    status = [{"dataset": "ROSMAP", "complete": True, "missing": []}]
    table = build_table([aggregate(r) for r in runs.values()], status, "resplit").set_index("method")
    assert list(table.index) == ["M3CoL (ours)", "logistic regression (ours)"]  # no paper rows
    acc = [r["metrics"]["accuracy"] for r in runs["m3col"]]
    assert table.loc["M3CoL (ours)", "accuracy_se"] == pytest.approx(np.std(acc, ddof=1) / np.sqrt(2))
    d = np.subtract(acc, [r["metrics"]["accuracy"] for r in runs["logreg"]])
    assert table.loc["M3CoL (ours)", "accuracy_minus_logreg"] == pytest.approx(d.mean())
    assert "2 re-splits" in table.loc["M3CoL (ours)", "source"]


@pytest.mark.parametrize("hparams, message", [
    ({"select": {"grid": {"train.epoch": [1]}}}, "config: medical.select.grid: 'train.epoch' does not match any"),
    ({"select": {"grid": {"m3co.mix_at": ["middle"]}}}, "config: medical.select.grid.m3co.mix_at.0: 'middle' is not"),
    ({"resplit": {"n": 1}}, "config: medical.resplit.n: 1 is less than the minimum of 2"),
])
def test_bad_selection_or_resplit_key_is_one_line(rosmap_h5ad, tmp_path, capsys, hparams, message):
    with pytest.raises(SystemExit) as exit_info:
        select_main(["--data", str(rosmap_h5ad), "--out", str(tmp_path / "s.json"), "--hparams", json.dumps(hparams)])
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and not (tmp_path / "s.json").exists()


def test_ties_to_rounding_error_go_to_the_first_grid_point(rosmap_h5ad, monkeypatch):
    # two points' fold accuracies from a real ROSMAP run: equal means but for the last bit (the second's is larger)
    folds = {1: [0.673469387755102, 0.7142857142857143, 0.7959183673469388, 0.7551020408163265, 0.8163265306122449],
             2: [0.7346938775510204, 0.7142857142857143, 0.7142857142857143, 0.6938775510204082, 0.8979591836734694]}
    assert np.mean(folds[2]) > np.mean(folds[1])
    calls = []

    def fake_train_one(data, hp, seed, out, *args, **kwargs):
        epochs = hp["train"]["epochs"]
        calls.append(epochs)
        return {"metrics": {"accuracy": folds[epochs][calls.count(epochs) - 1]}}

    monkeypatch.setattr("domains.medical.m3col.select.train_one", fake_train_one)
    hp = _hp("select", select={"folds": 5, "grid": {"train.epochs": [1, 2]}})
    record = select_on_split(ad.read_h5ad(rosmap_h5ad), hp, "fixed", 0)
    assert calls == [1] * 5 + [2] * 5 and record["chosen"] == {"train.epochs": 1, "m3co.weight": 0.1}
