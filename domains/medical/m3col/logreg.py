"""The simple baseline a reader would try first: multinomial logistic regression (scikit-learn) on all views'
features side by side, on M3CoL's test rows (:mod:`domains.medical.m3col.splits`: the same test rows per seed, the
same ``train.scaling``, fitted on the training rows).

The inverse regularisation strength ``C`` is chosen by stratified ``logreg.folds``-fold cross-validation inside the
training rows (scikit-learn ``GridSearchCV``, shuffled folds seeded by the run's seed; the highest mean accuracy
over ``logreg.C``, ties to the smaller ``C``), then the model is refit on all training rows and predicts the test
rows once: no validation rows are held out and no test row is read for the choice. Run by the training stage
(``python -m domains.medical.m3col.train --method logreg``); outputs as the other methods (``run.json``,
``predictions.tsv``, ``history.csv``: one row per ``C`` with its cross-validated accuracy).
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
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from domains.medical.m3col.metrics import classification_metrics
from domains.medical.m3col.splits import check_folds, scale, split_indices
from ssl_core.atomic import atomic_path, write_json

__all__ = ["fit_logreg"]


def fit_logreg(adata: ad.AnnData, hp: dict[str, Any], seed: int, out: Path, protocol: str = "fixed") -> dict[str, Any]:
    """Choose ``C`` by cross-validation on the training rows of split ``seed`` of ``protocol``
    (:func:`domains.medical.m3col.splits.split_rows`), refit on them, predict the test rows; write the outputs and
    return ``run.json``."""
    lr = hp["logreg"]
    parts = split_indices(adata, seed, 0.0, hp["test_fraction"], protocol)
    train = parts["fit"]
    x = scale(np.asarray(adata.X, dtype=np.float64), train, hp["train"]["scaling"])
    y = adata.obs["label"].to_numpy().astype(np.int64)
    check_folds(adata, y[train], lr["folds"], "medical.logreg.folds")
    n_classes = len(adata.uns["classes"])
    start = time.perf_counter()
    search = GridSearchCV(LogisticRegression(max_iter=lr["max_iter"], random_state=seed),
                          {"C": sorted(lr["C"])}, scoring="accuracy",
                          cv=StratifiedKFold(lr["folds"], shuffle=True, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the grid's weakest penalties may stop at max_iter
        search.fit(x[train], y[train])  # ties: GridSearchCV keeps the first best, the smaller C
    fit_seconds = time.perf_counter() - start
    model, best_c = search.best_estimator_, float(search.best_params_["C"])
    history = pd.DataFrame({"C": search.cv_results_["param_C"].astype(float),
                            "cv_acc": search.cv_results_["mean_test_score"],
                            "cv_acc_std": search.cv_results_["std_test_score"]})
    prob = np.zeros((len(parts["test"]), n_classes))
    prob[:, model.classes_] = model.predict_proba(x[parts["test"]])  # a class absent from the training rows: 0
    y_test = y[parts["test"]]

    out.mkdir(parents=True, exist_ok=True)
    pred = pd.DataFrame(prob, columns=[f"prob_{c}" for c in range(n_classes)], index=adata.obs_names[parts["test"]])
    pred.insert(0, "label", y_test)
    with atomic_path(out / "predictions.tsv") as tmp:
        pred.to_csv(tmp, sep="\t", index_label="sample")
    with atomic_path(out / "history.csv") as tmp:
        history.to_csv(tmp, index=False)
    run = {
        "dataset": adata.uns["dataset"], "method": "logreg", "seed": seed, "protocol": protocol,
        "metrics": classification_metrics(y_test, prob), "selection": f"C by {lr['folds']}-fold CV", "C": best_c,
        "selected_epoch": None, "epochs": 0, "n_fit": len(train), "n_val": 0,
        "n_test": len(parts["test"]), "fit_seconds": fit_seconds, "epoch_seconds_median": None,
    }
    write_json(out / "run.json", run)
    return run
