"""Read and validate the omics files of one data set into a single AnnData.

The AnnData holds all views side by side (``samples x (features of view 1 + ... + view V)``) with
``var["view"]`` naming each feature's view, ``uns["views"]`` the views in order, ``uns["classes"]`` the class
names, ``obs["label"]`` the class index and ``obs["split"]`` the fixed split (``train``/``test``) or ``all``
where the data set has none. Every problem with the files (missing, truncated, non-numeric, NaN/inf, mismatched
sample counts, labels outside the class set) raises one :class:`InputError` naming the file and the row or column.

A user's data set is a sample sheet (:mod:`domains.medical.data.sheet`) naming one CSV per view (a header row of
feature names, the sample id in the first column) and a label CSV (columns ``sample``, ``label`` and optionally
``split``, ``train`` or ``test`` on every row). Class names are the labels found (sorted; numerically when they
are all numbers).
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc

from domains.medical.data.datasets import VIEWS, DatasetSpec
from domains.medical.data.sheet import check_columns, read_sheet
from ssl_core.errors import InputError

__all__ = ["read_matrix_csv", "read_labels", "load_dataset", "load_sheet_dataset", "preprocess", "view_slices"]


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: not a well-formed CSV ({str(exc).strip()})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: file is empty") from None


def _check_numeric(frame: pd.DataFrame, path: Path, row_offset: int, col_offset: int = 0) -> np.ndarray:
    """Return ``frame`` as float64; name the first bad cell (1-based line and column numbers in the file)."""
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad_text = numeric.isna() & frame.notna()
    if bool(bad_text.to_numpy().any()):
        r, c = map(int, np.argwhere(bad_text.to_numpy())[0])
        raise InputError(f"{path}: line {r + 1 + row_offset}, column {c + 1 + col_offset}: {frame.iat[r, c]!r} is not a number")
    values = numeric.to_numpy(dtype=np.float64)
    missing = np.isnan(values)
    if missing.any():
        r, c = map(int, np.argwhere(missing)[0])
        n_missing_last = int(missing[-1].sum())
        if r == values.shape[0] - 1 and missing[-1, values.shape[1] - n_missing_last :].all() and n_missing_last < values.shape[1]:
            raise InputError(
                f"{path}: truncated: line {r + 1 + row_offset} has {values.shape[1] - n_missing_last} of {values.shape[1]} values"
            )
        raise InputError(f"{path}: line {r + 1 + row_offset}, column {c + 1 + col_offset}: missing value (NaN)")
    if not np.isfinite(values).all():
        r, c = map(int, np.argwhere(~np.isfinite(values))[0])
        raise InputError(f"{path}: line {r + 1 + row_offset}, column {c + 1 + col_offset}: value {values[r, c]} is not finite")
    return values


def read_matrix_csv(path: str | Path, *, header: bool = False) -> tuple[np.ndarray, list[str] | None, list[str] | None]:
    """Read a numeric samples x features CSV. With ``header`` the first row names features and the first column
    names samples. Returns (values, sample ids or None, feature names or None)."""
    path = Path(path)
    if header:
        frame = _read_csv(path, header=0, index_col=0, float_precision="round_trip")
        values = _check_numeric(frame, path, row_offset=1, col_offset=1)  # the sample id is column 1
        return values, [str(i) for i in frame.index], [str(c) for c in frame.columns]
    frame = _read_csv(path, header=None, float_precision="round_trip")
    return _check_numeric(frame, path, row_offset=0), None, None


def read_labels(path: Path, values: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """Check that labels are whole numbers in ``range(n_classes)`` and return them as int64."""
    as_int = np.rint(values).astype(np.int64)
    bad = (values != as_int) | (as_int < 0) | (as_int >= spec.n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{path}: line {i + 1}: label {values[i]:g} is outside the class set 0..{spec.n_classes - 1} of {spec.name}"
        )
    return as_int


def _load_mogonet(folder: Path, spec: DatasetSpec) -> ad.AnnData:
    blocks, labels, splits = [], [], []
    var_names, var_views = [], []
    for split in ("tr", "te"):
        lab_path = folder / f"labels_{split}.csv"
        lab_values, _, _ = read_matrix_csv(lab_path)
        if lab_values.shape[1] != 1:
            raise InputError(f"{lab_path}: expected one label per line, found {lab_values.shape[1]} columns")
        lab = read_labels(lab_path, lab_values[:, 0], spec)
        views = []
        for v in range(1, len(VIEWS) + 1):
            path = folder / f"{v}_{split}.csv"
            values, _, _ = read_matrix_csv(path)
            if values.shape[0] != lab.shape[0]:
                raise InputError(f"{path}: {values.shape[0]} samples, but {lab_path.name} has {lab.shape[0]} labels")
            if views and values.shape[0] != views[0].shape[0]:
                raise InputError(f"{path}: {values.shape[0]} samples, but view 1 has {views[0].shape[0]}")
            views.append(values)
        blocks.append(views)
        labels.append(lab)
        splits.append(np.full(lab.shape[0], "train" if split == "tr" else "test"))
    for v in range(len(VIEWS)):
        feat_path = folder / f"{v + 1}_featname.csv"
        names = _read_csv(feat_path, header=None)[0].astype(str).tolist()
        for split_views, split in zip(blocks, ("tr", "te")):
            if split_views[v].shape[1] != len(names):
                raise InputError(
                    f"{folder / f'{v + 1}_{split}.csv'}: {split_views[v].shape[1]} features, but {feat_path.name} names {len(names)}"
                )
        var_names += [f"{VIEWS[v]}:{n}" for n in names]
        var_views += [VIEWS[v]] * len(names)
    x = np.vstack([np.hstack(views) for views in blocks]).astype(np.float32)
    y = np.concatenate(labels)
    obs = pd.DataFrame(
        {"label": y, "split": np.concatenate(splits)},
        index=[f"{s}_{i}" for s, n in (("train", len(labels[0])), ("test", len(labels[1]))) for i in range(n)],
    )
    return ad.AnnData(X=x, obs=obs, var=pd.DataFrame({"view": var_views}, index=var_names))


def _read_views(ids: list[str], labels_path: Path, views: list[tuple[str, Path]]) -> tuple[np.ndarray, list, list]:
    """The rows ``ids`` of each view file (header, sample id first), side by side; (values, var names, var views)."""
    blocks, var_names, var_views = [], [], []
    for view, path in views:
        values, samples, features = read_matrix_csv(path, header=True)
        index: dict[str, int] = {}
        for i, sample in enumerate(samples):
            if sample in index:
                raise InputError(f"{path}: line {i + 2}: sample id {sample!r} again (first on line {index[sample] + 2})")
            index[sample] = i
        absent = [s for s in ids if s not in index]
        if absent:
            raise InputError(f"{path}: {len(absent)} samples of {labels_path.name} are missing, e.g. {absent[0]}")
        blocks.append(values[[index[s] for s in ids]])
        var_names += [f"{view}:{f}" for f in features]
        var_views += [view] * len(features)
    return np.hstack(blocks).astype(np.float32), var_names, var_views


def _load_keyed(folder: Path, spec: DatasetSpec) -> ad.AnnData:
    target_path = folder / spec.target_file
    target = _read_csv(target_path, header=0)
    if target.shape[1] != 2:
        raise InputError(f"{target_path}: expected two columns (sample id, target), found {target.shape[1]}")
    ids = target.iloc[:, 0].astype(str).tolist()
    if len(set(ids)) != len(ids):
        raise InputError(f"{target_path}: sample ids are not unique")
    y = read_labels(target_path, _check_numeric(target.iloc[:, [1]], target_path, row_offset=1, col_offset=1)[:, 0], spec)
    x, var_names, var_views = _read_views(ids, target_path, [(v, folder / f) for v, f in zip(VIEWS, spec.view_files)])
    obs = pd.DataFrame({"label": y, "split": "all"}, index=ids)
    return ad.AnnData(X=x, obs=obs, var=pd.DataFrame({"view": var_views}, index=var_names))


LABEL_COLUMNS = ("sample", "label", "split")


def _class_order(names: list[str]) -> list[str]:
    try:
        return sorted(names, key=float)
    except ValueError:
        return sorted(names)


def load_sheet_dataset(sheet: str | Path, name: str) -> ad.AnnData:
    """Read and check a user's data set from its sample sheet into one AnnData (see the module docstring)."""
    spec = read_sheet(sheet)
    path = spec.labels
    frame = _read_csv(path, dtype=str, keep_default_na=False)
    check_columns(path, list(frame.columns), LABEL_COLUMNS, ("sample", "label"))
    seen: dict[str, int] = {}
    for i, (sample, label) in enumerate(zip(frame["sample"], frame["label"]), start=2):
        if not sample or not label:
            raise InputError(f"{path}: line {i}: empty {'sample id' if not sample else 'label'}")
        if sample in seen:
            raise InputError(f"{path}: line {i}: sample id {sample!r} again (first on line {seen[sample]})")
        seen[sample] = i
    counts = frame["label"].value_counts()
    if (counts < 2).any():
        lone = counts.index[counts < 2][0]
        line = int(np.flatnonzero(frame["label"].to_numpy() == lone)[0]) + 2
        raise InputError(f"{path}: line {line}: label {lone!r} has one sample (each class needs two or more)")
    classes = _class_order(list(counts.index))
    if len(classes) < 2:
        raise InputError(f"{path}: one class only ({classes[0]!r}); classification needs two or more")
    split = "all"
    if "split" in frame.columns:
        bad = ~frame["split"].isin(["train", "test"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{path}: line {i + 2}: split {frame['split'].iat[i]!r} is not 'train' or 'test'")
        split = frame["split"].to_numpy()
        train_counts = frame["label"][split == "train"].value_counts()
        short = [c for c in classes if train_counts.get(c, 0) < 2]
        if short:  # the validation rows are a stratified draw from the training rows
            raise InputError(f"{path}: label {short[0]!r} has {train_counts.get(short[0], 0)} 'train' rows "
                             "(each class needs two or more)")
    ids = frame["sample"].tolist()
    x, var_names, var_views = _read_views(ids, path, list(spec.views))
    y = frame["label"].map({c: k for k, c in enumerate(classes)}).to_numpy(dtype=np.int64)
    adata = ad.AnnData(X=x, obs=pd.DataFrame({"label": y, "split": split}, index=ids),
                       var=pd.DataFrame({"view": var_views}, index=var_names))
    adata.uns.update(dataset=name, classes=classes, views=[v for v, _ in spec.views])
    adata.var_names_make_unique()
    return adata


def load_dataset(folder: str | Path, spec: DatasetSpec) -> ad.AnnData:
    """Read and validate every file of ``spec`` in ``folder`` into one AnnData (see module docstring)."""
    folder = Path(folder)
    adata = _load_mogonet(folder, spec) if spec.layout == "mogonet" else _load_keyed(folder, spec)
    adata.uns["dataset"] = spec.name
    adata.uns["classes"] = list(spec.classes)
    adata.uns["views"] = list(VIEWS)
    adata.var_names_make_unique()
    return adata


def preprocess(adata: ad.AnnData, *, log1p: bool = False, n_top_features: int | None = None) -> ad.AnnData:
    """Optional scanpy preprocessing, per view (the MOGONET files are already preprocessed: default is none).

    ``log1p`` applies ``scanpy.pp.log1p`` (needs non-negative values); ``n_top_features`` keeps, per view, the
    most dispersed features by ``scanpy.pp.highly_variable_genes`` computed on the training rows only, so no test
    sample influences the selection.
    """
    adata = adata.copy()
    if log1p:
        if float(adata.X.min()) < 0:
            raise InputError(f"{adata.uns['dataset']}: log1p needs non-negative values, but the data have negatives")
        sc.pp.log1p(adata)
    if n_top_features:
        fit_rows = adata.obs["split"].to_numpy() != "test"
        keep = np.zeros(adata.n_vars, dtype=bool)
        for view in adata.uns["views"]:
            cols = np.flatnonzero(adata.var["view"].to_numpy() == view)
            if len(cols) <= n_top_features:
                keep[cols] = True
                continue
            sub = ad.AnnData(X=np.asarray(adata.X[fit_rows][:, cols], dtype=np.float64))
            if float(sub.X.min()) < 0:  # dispersions (variance / mean) of expression-like data
                raise InputError(f"{adata.uns['dataset']}: preprocess.n_top_features ranks features by dispersion, which "
                                 f"needs non-negative values, but view {view!r} has negatives (set it to null)")
            sc.pp.highly_variable_genes(sub, n_top_genes=n_top_features, flavor="cell_ranger")
            keep[cols[sub.var["highly_variable"].to_numpy()]] = True
        adata = adata[:, keep].copy()
    return adata


def view_slices(adata: ad.AnnData) -> list[np.ndarray]:
    """Column indices of each view, in ``uns["views"]`` order (files written before it existed: VIEWS)."""
    views = adata.var["view"].to_numpy()
    return [np.flatnonzero(views == v) for v in adata.uns.get("views", VIEWS)]
