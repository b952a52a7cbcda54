"""M3CoL's settings chosen by stratified k-fold cross-validation inside the training rows of one split; the test
rows are never read. Not part of the default run: the fixed split's choices are committed to ``config/config.yaml``
(and the record to ``config/medical_select/<dataset>.json``); the re-split protocol runs it inside each re-split.

    python -m domains.medical.m3col.select --data results/medical/ROSMAP/data.h5ad \
        --out results/medical/select/ROSMAP.json [--protocol fixed|resplit] [--split 0] [--config ...] [--hparams ...]

The training rows of split ``--split`` of ``--protocol`` (:func:`domains.medical.m3col.splits.split_rows`) are cut
into ``select.folds`` stratified folds (shuffled, seeded by the split index). Every point of ``select.grid`` (the
product of its lists; keys are dotted config keys such as ``train.epochs``) trains M3CoL on all folds but one and
scores the held-out fold, through the training stage's own code (:func:`domains.medical.m3col.train.train_one`,
seed = the split index). The point with the highest mean fold accuracy is chosen (ties, to 1e-9: the first in grid
order). A config file or ``--hparams`` merges its grid keys into the default grid (give a key one value to hold it).
Output: the grid, every point's fold accuracies and mean, ``chosen`` (dotted key -> value) and ``seconds``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
from sklearn.model_selection import StratifiedKFold

from domains.medical.m3col.splits import check_folds, split_rows
from domains.medical.m3col.train import add_protocol_argument, nested, read_stage_inputs, train_one
from ssl_core.atomic import write_json
from ssl_core.config import deep_merge
from ssl_core.errors import report_input_errors
from ssl_core.training import Compute, add_training_arguments, resolve_compute

__all__ = ["grid_points", "cross_validate", "select_on_split", "main"]


def grid_points(grid: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first key varying slowest (grid order)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def _fold_data(train_data: ad.AnnData, fit: np.ndarray, held: np.ndarray) -> ad.AnnData:
    """The rows of one fold as a data set whose fixed split trains on ``fit`` and tests on ``held``."""
    rows = np.sort(np.concatenate([fit, held]))
    fold = train_data[rows].copy()
    fold.obs["split"] = np.where(np.isin(rows, held), "test", "train")
    return fold


def cross_validate(train_data: ad.AnnData, hp: dict[str, Any], seed: int, threads: int | None = None,
                   compute: Compute | None = None) -> dict[str, Any]:
    """Mean fold accuracy of every grid point on ``train_data``, which holds only the training rows of a split
    (so no test row can be read), and the chosen point."""
    sel = hp["select"]
    y = train_data.obs["label"].to_numpy().astype(np.int64)
    check_folds(train_data, y, sel["folds"], "medical.select.folds")
    points = grid_points(sel["grid"])
    folds = list(StratifiedKFold(sel["folds"], shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    compute = dataclasses.replace(compute or Compute(), devices=1)  # folds train one after another, one device
    start = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="medical_select_") as tmp:
        for j, point in enumerate(points):
            h = deep_merge(hp, nested(point))
            accuracy = []
            for k, (fit, held) in enumerate(folds):
                run = train_one(_fold_data(train_data, fit, held), h, seed, Path(tmp) / f"point{j}_fold{k}", threads,
                                progress=False, compute=compute)
                accuracy.append(run["metrics"]["accuracy"])
            results.append({"point": point, "fold_accuracy": accuracy, "accuracy": float(np.mean(accuracy))})
            print(json.dumps(results[-1]), flush=True)
    # ties, to the rounding error of a mean, go to the first grid point
    best = max(range(len(results)), key=lambda j: (round(results[j]["accuracy"], 9), -j))
    return {"folds": sel["folds"], "n_train": int(train_data.n_obs), "seed": seed, "grid": sel["grid"],
            "results": results, "chosen": results[best]["point"], "seconds": time.perf_counter() - start}


def select_on_split(adata: ad.AnnData, hp: dict[str, Any], protocol: str, index: int, threads: int | None = None,
                    compute: Compute | None = None) -> dict[str, Any]:
    """:func:`cross_validate` on the training rows of split ``index`` of ``protocol``; the test rows are dropped
    before it is called."""
    train, _ = split_rows(adata, protocol, index, hp["test_fraction"])
    record = cross_validate(adata[np.sort(train)].copy(), hp, index, threads, compute)
    return {"dataset": adata.uns["dataset"], "protocol": protocol, "split": index, **record}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m domains.medical.m3col.select", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path, help="data.h5ad written by the prepare stage")
    p.add_argument("--out", required=True, type=Path, help="the selection record (JSON)")
    add_protocol_argument(p)
    p.add_argument("--split", type=int, default=0, help="index of the split (and seed of the folds and training)")
    add_training_arguments(p)
    return p


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    adata, hp = read_stage_inputs(args, "select")
    record = select_on_split(adata, hp, args.protocol, args.split, args.threads,
                             resolve_compute(args.config, args.compute))
    write_json(args.out, record)
    print(json.dumps(record["chosen"]))


if __name__ == "__main__":
    main()
