"""Retrieval metrics of every method on the test classes, over seeds.

    python -m domains.metric.metrix.evaluate --dataset esc50 \
        --embeddings results/metric/esc50/seed0/embeddings.npz results/metric/esc50/seed1/embeddings.npz ... \
        --out results/metric/esc50/metrics.json [--config ...] [--hparams ...]

Every test example is a query against all other test examples (cosine similarity of the L2-normalised
embeddings, the query itself left out), as in "A Metric Learning Reality Check" (Musgrave et al., ECCV 2020):

* ``recall_at_k`` for each k of ``eval.ks``: share of queries with an example of their class among their k nearest
  neighbours (Recall@K as the Metrix paper reports it; Recall@1 = Precision@1);
* ``map_at_r``: mean over queries of ``(1/R) sum_{i <= R} P(i) [i-th neighbour is of the query's class]``, R the
  number of other test examples of the query's class (pytorch-metric-learning's ``mean_average_precision_at_r``);
* ``utilization`` (Venkataramanan et al., ICLR 2022): mean over test queries of the squared Euclidean distance to
  the nearest training embedding (:func:`ssl_core.losses.metrix.metrix_utilization`, computed here in numpy);
  ``utilization_mixed``: the same with the method's mixed training embeddings added to the references.

Output ``metrics.json``: ``methods`` -> method -> metric -> ``mean``, ``std`` (over seeds, ddof 0), ``per_seed``;
``paired`` -> each Metrix / i-Mix / MoCHi row -> its clean loss's row: mean and per-seed Recall@1 difference and the
number of seeds where it is higher. numpy only (no torch import).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from domains.metric.settings import DATASETS, STAGE_PARTS
from ssl_core.atomic import write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors

__all__ = ["neighbour_matches", "recall_at_k", "map_at_r", "utilization", "retrieval_metrics", "evaluate", "main"]


def _check(z: np.ndarray, y: np.ndarray) -> None:
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise InputError(f"embeddings must be [N, D] with one label per row, got {z.shape} and {y.shape}")
    counts = np.unique(y, return_counts=True)[1]
    if counts.size < 2 or counts.min() < 2:
        raise InputError("retrieval needs at least two test classes and two examples of every class")


def neighbour_matches(z: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """``[N, k]`` bool: whether each query's i-th nearest other example (cosine) is of its class."""
    z = np.asarray(z, dtype=np.float64)
    z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    out = np.empty((z.shape[0], k), dtype=bool)
    for start in range(0, z.shape[0], 1024):
        s = z[start:start + 1024] @ z.T
        rows = np.arange(s.shape[0])
        s[rows, start + rows] = -np.inf
        idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
        out[start:start + 1024] = y[idx] == y[start:start + 1024, None]
    return out


def recall_at_k(z: np.ndarray, y: np.ndarray, ks: list[int]) -> dict[int, float]:
    _check(z, y)
    m = neighbour_matches(z, y, min(max(ks), z.shape[0] - 1))
    return {k: float(m[:, :k].any(axis=1).mean()) for k in ks}


def map_at_r(z: np.ndarray, y: np.ndarray) -> float:
    _check(z, y)
    r = np.bincount(np.searchsorted(np.unique(y), y))[np.searchsorted(np.unique(y), y)] - 1  # other same-class
    m = neighbour_matches(z, y, int(r.max()))
    prec = np.cumsum(m, axis=1) / np.arange(1, m.shape[1] + 1)
    within = np.arange(m.shape[1])[None, :] < r[:, None]
    return float(((prec * m * within).sum(axis=1) / r).mean())


def utilization(queries: np.ndarray, references: np.ndarray) -> float:
    """Mean over queries of the squared Euclidean distance to the nearest reference."""
    q = np.asarray(queries, dtype=np.float64)
    ref = np.asarray(references, dtype=np.float64)
    rn = (ref**2).sum(1)
    total = 0.0
    for start in range(0, q.shape[0], 1024):
        qq = q[start:start + 1024]
        d2 = (qq**2).sum(1)[:, None] + rn[None, :] - 2 * qq @ ref.T
        total += float(np.maximum(d2.min(axis=1), 0).sum())
    return total / q.shape[0]


def retrieval_metrics(test: np.ndarray, y: np.ndarray, train: np.ndarray, mixed: np.ndarray | None,
                      ks: list[int]) -> dict[str, float]:
    out = {f"recall_at_{k}": v for k, v in recall_at_k(test, y, ks).items()}
    out["map_at_r"] = map_at_r(test, y)
    out["utilization"] = utilization(test, train)
    if mixed is not None and mixed.shape[0] and mixed.shape[1] == train.shape[1]:
        out["utilization_mixed"] = utilization(test, np.concatenate([train, mixed]))
    return out


def _read(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        names = json.loads(str(arrays["methods"]))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not an embeddings file of the metric train stage ({exc})") from None
    return names, arrays


def _seed_of(path: Path) -> int:
    m = re.search(r"seed(\d+)", str(path))
    return int(m.group(1)) if m else -1


def clean_of(method: str) -> str | None:
    """The clean row a mixing row is compared with (``contrastive + Metrix/feature`` -> ``contrastive``)."""
    return method.split(" + ")[0] if " + " in method else None


def evaluate(dataset: str, paths: list[Path], hp: dict[str, Any]) -> dict[str, Any]:
    ks = sorted(hp["eval"]["ks"])
    per: dict[str, dict[str, dict[str, float]]] = {}
    seeds = []
    for path in sorted(paths, key=_seed_of):
        seed = _seed_of(path)
        seeds.append(seed)
        names, a = _read(path)
        for i, name in enumerate(names):
            slug = f"m{i:02d}"
            try:
                m = retrieval_metrics(a[f"{slug}/test"], a["y_test"], a[f"{slug}/train"].astype(np.float32),
                                      a.get(f"{slug}/mixed"), ks)
            except KeyError as exc:
                raise InputError(f"{path}: missing array {exc}") from None
            for metric, value in m.items():
                per.setdefault(name, {}).setdefault(metric, {})[str(seed)] = value
    if len(set(seeds)) != len(seeds):
        raise InputError("two embeddings files of the same seed")
    methods = {name: {metric: {"mean": float(np.mean(list(v.values()))), "std": float(np.std(list(v.values()))),
                               "per_seed": v} for metric, v in ms.items()} for name, ms in per.items()}
    paired = {}
    for name, ms in per.items():
        base = clean_of(name)
        if base is None or base not in per:
            continue
        diffs = {s: ms["recall_at_1"][s] - per[base]["recall_at_1"][s] for s in ms["recall_at_1"]}
        du = {s: ms["utilization"][s] - per[base]["utilization"][s] for s in ms["utilization"]}
        paired[name] = {"vs": base, "recall_at_1_diff_mean": float(np.mean(list(diffs.values()))),
                        "recall_at_1_diff_per_seed": diffs,
                        "seeds_better": int(sum(v > 0 for v in diffs.values())), "seeds": len(diffs),
                        "utilization_diff_mean": float(np.mean(list(du.values())))}
    return {"dataset": dataset, "seeds": seeds, "ks": ks, "methods": methods, "paired": paired}


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.metric.metrix.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--embeddings", required=True, nargs="+", type=Path, help="embeddings.npz of every seed")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--config", action="append", type=Path, help="config YAML merged over config/config.yaml")
    p.add_argument("--hparams", default=None, help="JSON object merged over the metric section")
    args = p.parse_args(argv)
    for path in args.embeddings:
        if not path.is_file():
            raise InputError(f"{path}: no such file (run the metric train stage first)")
    hp = resolve_section(("metric",), args.config, args.hparams, parts=STAGE_PARTS["evaluate"])
    metrics = evaluate(args.dataset, args.embeddings, hp)
    write_json(args.out, metrics)
    for name, m in metrics["methods"].items():
        print(f"{args.dataset}: {name}: R@1 {m['recall_at_1']['mean']:.3f} +- {m['recall_at_1']['std']:.3f}")


if __name__ == "__main__":
    main()
