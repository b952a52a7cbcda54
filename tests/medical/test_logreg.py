"""The logistic-regression baseline: M3CoL's test rows, C chosen by cross-validation on the training rows only,
outputs the evaluation stage reads."""

from __future__ import annotations

import json
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from domains.medical.m3col.evaluate import aggregate
from domains.medical.m3col.logreg import fit_logreg
from domains.medical.m3col.splits import split_indices
from domains.medical.settings import STAGE_PARTS
from ssl_core.config import deep_merge, resolve_section
from ssl_core.errors import InputError
from tests.conftest import REPO


def _hp(**override) -> dict:
    return deep_merge(resolve_section(("medical",), None, None, "ROSMAP", parts=STAGE_PARTS["train_logreg"]), override)


def test_cli_writes_the_outputs_of_every_method(rosmap_h5ad, tmp_path):
    out = tmp_path / "seed0"
    proc = subprocess.run([sys.executable, "-m", "domains.medical.m3col.train", "--data", str(rosmap_h5ad), "--method",
                           "logreg", "--seed", "0", "--out", str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    run = json.loads((out / "run.json").read_text())
    hp = _hp()
    assert run["method"] == "logreg" and run["C"] in hp["logreg"]["C"] and run["n_test"] == 106
    assert run["metrics"]["accuracy"] > 0.6  # ROSMAP is far from chance for a linear model
    pred = pd.read_csv(out / "predictions.tsv", sep="\t", index_col=0)
    assert len(pred) == 106 and np.allclose(pred.filter(like="prob_").sum(axis=1), 1.0)
    history = pd.read_csv(out / "history.csv")
    assert list(history.C) == sorted(hp["logreg"]["C"]) and history.cv_acc.between(0, 1).all()
    # the chosen C has the best cross-validated accuracy, and the smallest C among ties
    assert run["C"] == history[history.cv_acc == history.cv_acc.max()].C.min()
    assert (run["n_fit"], run["n_val"]) == (245, 0) and run["selection"] == "C by 5-fold CV"
    metrics = aggregate([run, {**run, "seed": 1}])
    assert metrics["method"] == "logreg" and metrics["epochs"] == 0 and metrics["epoch_seconds_median"] is None


def test_same_test_rows_as_m3col_and_c_never_looks_at_the_test_labels(rosmap_h5ad, tmp_path):
    adata = ad.read_h5ad(rosmap_h5ad)
    hp = _hp()
    for seed in (0, 1):
        run = fit_logreg(adata, hp, seed, tmp_path / f"a{seed}")
        parts = split_indices(adata, seed, 0.2, hp["test_fraction"])  # M3CoL's rows with its validation split
        assert run["n_test"] == len(parts["test"]) and run["n_fit"] == len(parts["fit"]) + len(parts["val"])
        # poison the test rows' labels (every one flipped): the chosen C, its cross-validated accuracies and the
        # fitted model must not change, only the score
        poisoned = adata.copy()
        y = poisoned.obs["label"].to_numpy().copy()
        y[parts["test"]] = 1 - y[parts["test"]]
        poisoned.obs["label"] = y
        other = fit_logreg(poisoned, hp, seed, tmp_path / f"b{seed}")
        assert other["C"] == run["C"] and other["metrics"] != run["metrics"]
        histories = [pd.read_csv(tmp_path / d / "history.csv") for d in (f"a{seed}", f"b{seed}")]
        pd.testing.assert_frame_equal(*histories)
        probs = [pd.read_csv(tmp_path / d / "predictions.tsv", sep="\t").filter(like="prob_") for d in (f"a{seed}", f"b{seed}")]
        pd.testing.assert_frame_equal(*probs)


def test_a_fold_count_the_smallest_class_cannot_support_is_one_error(rosmap_h5ad, tmp_path):
    adata = ad.read_h5ad(rosmap_h5ad)
    train = np.flatnonzero(adata.obs["split"].to_numpy() == "train")
    n_min = int(np.bincount(adata.obs["label"].to_numpy()[train].astype(int)).min())
    with pytest.raises(InputError, match=f"config: medical.logreg.folds: {n_min + 1} folds need {n_min + 1} "
                                         f"training rows of every class; class .* has {n_min}"):
        fit_logreg(adata, _hp(logreg={"folds": n_min + 1}), 0, tmp_path)
    assert not tmp_path.joinpath("run.json").exists()
