"""The logistic-regression baseline: the same rows as M3CoL, C chosen on the validation rows only, outputs the
evaluation stage reads."""

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
    assert list(history.C) == sorted(hp["logreg"]["C"]) and history.val_acc.between(0, 1).all()
    assert history.val_acc.max() == history.set_index("C").val_acc[run["C"]]
    metrics = aggregate([run, {**run, "seed": 1}])
    assert metrics["method"] == "logreg" and metrics["epochs"] == 0 and metrics["epoch_seconds_median"] is None


def test_same_rows_as_m3col_and_c_never_looks_at_the_test_labels(rosmap_h5ad, tmp_path):
    adata = ad.read_h5ad(rosmap_h5ad)
    hp = _hp()
    for seed in (0, 1):
        run = fit_logreg(adata, hp, seed, tmp_path / f"a{seed}")
        parts = split_indices(adata, seed, hp["val_fraction"], hp["test_fraction"])
        assert (run["n_fit"], run["n_val"], run["n_test"]) == tuple(len(parts[k]) for k in ("fit", "val", "test"))
        # scramble the test rows' labels: the chosen C (and the fitted model) must not change, only the score
        scrambled = adata.copy()
        y = scrambled.obs["label"].to_numpy().copy()
        y[parts["test"]] = np.random.default_rng(seed).permutation(y[parts["test"]][::-1])
        scrambled.obs["label"] = y
        other = fit_logreg(scrambled, hp, seed, tmp_path / f"b{seed}")
        assert other["C"] == run["C"]
        probs = [pd.read_csv(tmp_path / d / "predictions.tsv", sep="\t").filter(like="prob_") for d in (f"a{seed}", f"b{seed}")]
        pd.testing.assert_frame_equal(*probs)


def test_needs_validation_rows(rosmap_h5ad, tmp_path):
    with pytest.raises(InputError, match="config: medical.val_fraction: logistic regression chooses C on validation"):
        fit_logreg(ad.read_h5ad(rosmap_h5ad), _hp(val_fraction=0.0), 0, tmp_path)
