"""The paper's metrics (M3CoL Table 2): binary tasks report ACC, F1, AUC; multi-class tasks ACC, weighted F1 and
macro F1. Computed with scikit-learn from class probabilities."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

__all__ = ["metric_names", "classification_metrics"]


def metric_names(n_classes: int) -> list[str]:
    return ["accuracy", "f1", "auc"] if n_classes == 2 else ["accuracy", "f1_weighted", "f1_macro"]


def metric_names_of(result: dict) -> list[str]:
    """The metric names a metrics record holds (binary data sets have an AUC, the others macro F1)."""
    return metric_names(2 if "auc" in result else 3)


def classification_metrics(y_true: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """Metrics of ``prob`` (samples x classes) against integer labels ``y_true``."""
    pred = prob.argmax(axis=1)
    out = {"accuracy": float(accuracy_score(y_true, pred))}
    if prob.shape[1] == 2:
        out["f1"] = float(f1_score(y_true, pred, average="binary"))
        out["auc"] = float(roc_auc_score(y_true, prob[:, 1]))
    else:
        out["f1_weighted"] = float(f1_score(y_true, pred, average="weighted"))
        out["f1_macro"] = float(f1_score(y_true, pred, average="macro"))
    return out
