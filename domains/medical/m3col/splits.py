"""The one split mechanism every medical method (M3CoL, MOGONET, logistic regression) and the choice of settings
use, so that they are compared on exactly the same test rows; and the scaling fitted on the training rows.

Two protocols (:func:`split_rows`):

- ``fixed``: the data set's own train/test split (MOGONET's ROSMAP and BRCA files, a user's ``split`` column); a
  data set without one (TCGA-BRCA, a user's cohort without ``split``) gets a stratified split with
  ``test_fraction`` of the rows as test rows, seeded by the index (the run's seed).
- ``resplit``: all rows pooled and split again, stratified and seeded by the index, with as many test rows as the
  fixed split has (``test_fraction`` without one: then re-split ``i`` is the fixed protocol's split of seed ``i``).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
from sklearn.model_selection import train_test_split

from ssl_core.errors import InputError

__all__ = ["PROTOCOLS", "split_rows", "split_indices", "check_folds", "scale"]

PROTOCOLS = ("fixed", "resplit")


def split_rows(adata: ad.AnnData, protocol: str, index: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Training and test row indices of split ``index`` of ``protocol`` (training rows in draw order, test rows
    sorted). A class that a drawn split cannot place in both the training and the test rows is one InputError."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown split protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    y = adata.obs["label"].to_numpy()
    split = adata.obs["split"].to_numpy()
    idx = np.arange(adata.n_obs)
    has_fixed = not (split == "all").all()
    if protocol == "fixed" and has_fixed:
        return idx[split == "train"], idx[split == "test"]
    test_size = int((split == "test").sum()) if has_fixed else test_fraction
    classes, counts = np.unique(y, return_counts=True)
    what = "medical.resplit.n: a re-split" if protocol == "resplit" else "medical.test_fraction: a seeded split"
    if counts.min() < 2:
        raise InputError(f"config: {what} needs every class in both the training and the test rows; class "
                         f"{_name(adata, classes[counts.argmin()])!r} has {counts.min()} row")
    try:
        train, test = train_test_split(idx, test_size=test_size, stratify=y, random_state=index)
    except ValueError as exc:  # fewer test (or training) rows than classes
        raise InputError(f"config: {what} of {adata.n_obs} rows into {test_size} test rows is not possible "
                         f"({exc})") from None
    for name, rows in (("training", train), ("test", test)):
        missing = np.setdiff1d(classes, y[rows])
        if len(missing):
            c = missing[0]
            raise InputError(f"config: {what} needs every class in both the training and the test rows; split "
                             f"{index} leaves class {_name(adata, c)!r} ({counts[classes == c][0]} rows) out of "
                             f"the {name} rows")
    return train, np.sort(test)


def _name(adata: ad.AnnData, label) -> str:
    classes = adata.uns.get("classes")
    return str(classes[int(label)]) if classes is not None else str(label)


def split_indices(adata: ad.AnnData, seed: int, val_fraction: float, test_fraction: float,
                  protocol: str = "fixed") -> dict[str, np.ndarray]:
    """Row indices of the fit, validation and test sets of split ``seed`` of ``protocol`` (:func:`split_rows`);
    ``val_fraction`` of the training rows are held out (stratified, seeded) as validation rows."""
    train, test = split_rows(adata, protocol, seed, test_fraction)
    if val_fraction > 0:
        y = adata.obs["label"].to_numpy()
        fit, val = train_test_split(train, test_size=val_fraction, stratify=y[train], random_state=seed)
    else:
        fit, val = train, train[:0]
    return {"fit": np.sort(fit), "val": np.sort(val), "test": test}


def check_folds(adata: ad.AnnData, y: np.ndarray, folds: int, key: str) -> None:
    """One clear error before any fit when a class has fewer training rows ``y`` than cross-validation folds
    (``key``: the config key that sets ``folds``)."""
    counts = np.bincount(y.astype(np.int64), minlength=len(adata.uns["classes"]))
    present = np.flatnonzero(counts)
    smallest = present[np.argmin(counts[present])]
    if counts[smallest] < folds:
        raise InputError(f"config: {key}: {folds} folds need {folds} training rows of every class; "
                         f"class {adata.uns['classes'][smallest]!r} has {counts[smallest]}")


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
