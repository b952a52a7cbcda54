"""The simple baseline a reader would try first: multinomial logistic regression (scikit-learn) on all views'
features side by side, on exactly M3CoL's rows (:mod:`domains.medical.m3col.splits`: the same fit, validation and
test rows per seed, the same ``train.scaling`` fitted on the fit rows).

The inverse regularisation strength ``C`` is chosen on the validation rows only (the highest validation accuracy
over ``logreg.C``; ties go to the smaller ``C``), then the model is refit on the fit rows with it and predicts the
test rows once. Run by the training stage (``python -m domains.medical.m3col.train --method logreg``); outputs as
the other methods (``run.json``, ``predictions.tsv``, ``history.csv``: one row per ``C`` with its validation
accuracy).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from domains.medical.m3col.metrics import classification_metrics
from domains.medical.m3col.splits import scale, split_indices
from ssl_core.atomic import atomic_path, write_json
from ssl_core.errors import InputError

__all__ = ["fit_logreg"]


def _model(c: float, hp: dict[str, Any], seed: int) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=hp["logreg"]["max_iter"], random_state=seed)


def fit_logreg(adata: ad.AnnData, hp: dict[str, Any], seed: int, out: Path) -> dict[str, Any]:
    """Choose ``C`` on validation, refit, predict the test rows; write the outputs and return ``run.json``."""
    parts = split_indices(adata, seed, hp["val_fraction"], hp["test_fraction"])
    if len(parts["val"]) == 0:
        raise InputError("config: medical.val_fraction: logistic regression chooses C on validation rows; "
                         "it needs val_fraction > 0")
    x = scale(np.asarray(adata.X, dtype=np.float64), parts["fit"], hp["train"]["scaling"])
    y = adata.obs["label"].to_numpy().astype(np.int64)
    n_classes = len(adata.uns["classes"])
    start = time.perf_counter()
    history = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the grid's weakest penalties may stop at max_iter
        for c in sorted(hp["logreg"]["C"]):
            model = _model(c, hp, seed).fit(x[parts["fit"]], y[parts["fit"]])
            history.append({"C": c, "val_acc": float((model.predict(x[parts["val"]]) == y[parts["val"]]).mean())})
        best = max(history, key=lambda h: h["val_acc"])  # first maximum: the smallest C among ties
        model = _model(best["C"], hp, seed).fit(x[parts["fit"]], y[parts["fit"]])
    fit_seconds = time.perf_counter() - start
    prob = np.zeros((len(parts["test"]), n_classes))
    prob[:, model.classes_] = model.predict_proba(x[parts["test"]])  # a class absent from the fit rows: 0
    y_test = y[parts["test"]]

    out.mkdir(parents=True, exist_ok=True)
    pred = pd.DataFrame(prob, columns=[f"prob_{c}" for c in range(n_classes)], index=adata.obs_names[parts["test"]])
    pred.insert(0, "label", y_test)
    with atomic_path(out / "predictions.tsv") as tmp:
        pred.to_csv(tmp, sep="\t", index_label="sample")
    with atomic_path(out / "history.csv") as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    run = {
        "dataset": adata.uns["dataset"], "method": "logreg", "seed": seed,
        "metrics": classification_metrics(y_test, prob), "selection": "C on validation", "C": best["C"],
        "selected_epoch": None, "epochs": 0, "n_fit": len(parts["fit"]), "n_val": len(parts["val"]),
        "n_test": len(parts["test"]), "fit_seconds": fit_seconds, "epoch_seconds_median": None,
    }
    write_json(out / "run.json", run)
    return run
