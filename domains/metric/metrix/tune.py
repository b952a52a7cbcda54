"""The choice grid of the metric domain, on validation classes carved from the training classes (never the test
classes). Not part of the default run: its choices are committed to ``config/config.yaml``.

    python -m domains.metric.metrix.tune --data results/metric/data/esc50.npz --dataset esc50 \
        --out results/metric/tune/esc50.json [--config ...] [--hparams ...] [--threads 1]

The last ``tune.val_classes`` training classes become the validation classes (queries against each other, as
the test protocol); the network trains on the other training classes. Step 1: the clean ``tune.loss`` for each
learning rate of ``tune.lr``; the best validation Recall@1 (mean over ``tune.seeds``) fixes ``train.lr``. Step 2:
``tune.loss`` + Metrix/feature at that learning rate for each ``metrix.alpha`` x ``metrix.weight`` of the grid.
``train.steps`` is the budget's (see the README), not tuned. Output: every grid point's validation Recall@1 and
MAP@R, and ``chosen``.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from domains.metric.metrix.evaluate import map_at_r, recall_at_k
from domains.metric.metrix.train import (Method, _as_input, check_settings, embed, load_data, sample_batches,
                                         train_method)
from domains.metric.settings import DATASETS, STAGE_PARTS
from ssl_core.atomic import write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.training import Compute, add_training_arguments, resolve_compute

__all__ = ["validation_split", "tune", "main"]


def validation_split(y_train: np.ndarray, val_classes: int) -> np.ndarray:
    """Bool mask of the rows whose class is one of the last ``val_classes`` training classes."""
    classes = np.unique(y_train)
    if val_classes > classes.size - 2:
        raise InputError(f"config: metric.tune.val_classes: {val_classes} of {classes.size} training classes leaves "
                         "fewer than 2 to train on")
    return y_train >= classes[-val_classes]


def tune(data_path: Path, dataset: str, hp: dict[str, Any], out: Path, compute: Compute | None = None,
         threads: int | None = None) -> dict[str, Any]:
    compute = compute or Compute()
    d = load_data(data_path)
    test = d["test"].astype(bool)
    y_train = np.unique(d["y"][~test], return_inverse=True)[1]
    val = validation_split(y_train, hp["tune"]["val_classes"])
    x = _as_input(d["x"][~test])
    x_fit, y_fit = x[torch.from_numpy(~val)], torch.from_numpy(y_train[~val])
    x_val, y_val = x[torch.from_numpy(val)], y_train[val]
    check_settings({**hp, "losses": [hp["tune"]["loss"]]}, int(y_fit.max()) + 1)
    tr = hp["train"]
    epochs = math.ceil(tr["steps"] / tr["steps_per_epoch"])
    per_epoch = math.ceil(tr["steps"] / epochs)
    ks = sorted(hp["eval"]["ks"])
    results = []
    t0 = time.perf_counter()

    def run(method: Method, setting: dict[str, Any], h: dict[str, Any]) -> float:
        r1s = []
        for seed in hp["tune"]["seeds"]:
            batches = sample_batches(y_fit.numpy(), epochs * per_epoch, tr["classes_per_batch"], tr["per_class"], seed)
            slug = method.slug + "_" + "_".join(f"{k}{v}" for k, v in setting.items())
            net, _ = train_method(method, dataset, x_fit, y_fit, batches, h, seed,
                                  out.parent / f".{out.stem}_checkpoints" / f"{slug}_seed{seed}", {"data": data_path},
                                  compute, threads, False, per_epoch)
            z = embed(net, x_val, tr["embed_batch"])
            r = recall_at_k(z, y_val, ks)
            r1s.append(r[ks[0]])
            results.append({"method": method.name, **setting, "seed": seed, "val_recall_at_1": r[ks[0]],
                            "val_map_at_r": map_at_r(z, y_val)})
            print(json.dumps(results[-1]), flush=True)
        return float(np.mean(r1s))

    loss = hp["tune"]["loss"]
    lr_scores = {}
    for lr in hp["tune"]["lr"]:
        h = copy.deepcopy(hp)
        h["train"]["lr"] = lr
        lr_scores[lr] = run(Method(loss), {"lr": lr}, h)
    best_lr = max(lr_scores, key=lr_scores.get)
    mix_scores = {}
    for alpha, weight in itertools.product(hp["tune"]["alpha"], hp["tune"]["weight"]):
        h = copy.deepcopy(hp)
        h["train"]["lr"] = best_lr
        h["metrix"].update(alpha=alpha, weight=weight)
        mix_scores[(alpha, weight)] = run(Method(loss, "feature"), {"lr": best_lr, "alpha": alpha, "weight": weight}, h)
    best_alpha, best_weight = max(mix_scores, key=mix_scores.get)
    record = {"dataset": dataset, "val_classes": int(np.unique(y_val).size), "train_classes": int(np.unique(y_fit).size),
              "steps": epochs * per_epoch, "results": results,
              "chosen": {"train.lr": best_lr, "metrix.alpha": best_alpha, "metrix.weight": best_weight},
              "seconds": time.perf_counter() - t0}
    write_json(out, record)
    return record


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.metric.metrix.tune", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path, help="output of the metric data stage (.npz)")
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--out", required=True, type=Path)
    add_training_arguments(p)
    args = p.parse_args(argv)
    if not args.data.is_file():
        raise InputError(f"{args.data}: no such file (run the metric data stage first)")
    hp = resolve_section(("metric",), args.config, args.hparams, dataset=args.dataset, parts=STAGE_PARTS["tune"])
    compute = resolve_compute(args.config, args.compute)
    record = tune(args.data, args.dataset, hp, args.out, compute, args.threads)
    print(json.dumps(record["chosen"]))


if __name__ == "__main__":
    main()
