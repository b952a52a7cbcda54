"""The splits and scaling every medical method uses (M3CoL, MOGONET, logistic regression), so that they
are compared on exactly the same test rows."""

from __future__ import annotations

import anndata as ad
import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["split_indices", "scale"]


def split_indices(adata: ad.AnnData, seed: int, val_fraction: float, test_fraction: float) -> dict[str, np.ndarray]:
    """Row indices of the fit, validation and test sets (stratified, seeded; the fixed test split when present)."""
    y = adata.obs["label"].to_numpy()
    split = adata.obs["split"].to_numpy()
    idx = np.arange(adata.n_obs)
    if (split == "all").all():
        train, test = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    else:
        train, test = idx[split == "train"], idx[split == "test"]
    if val_fraction > 0:
        fit, val = train_test_split(train, test_size=val_fraction, stratify=y[train], random_state=seed)
    else:
        fit, val = train, train[:0]
    return {"fit": np.sort(fit), "val": np.sort(val), "test": np.sort(test)}


def scale(x: np.ndarray, fit_rows: np.ndarray, how: str) -> np.ndarray:
    """Scale features with statistics of the fitting rows only (no test information leaks in)."""
    if how == "none":
        return x
    ref = x[fit_rows]
    if how == "minmax":
        lo = ref.min(axis=0, keepdims=True)
        span = ref.max(axis=0, keepdims=True) - lo
        return (x - lo) / np.where(span > 0, span, 1.0)
    mean, std = ref.mean(axis=0, keepdims=True), ref.std(axis=0, keepdims=True)
    return (x - mean) / np.where(std > 0, std, 1.0)
