"""The metric domain's table: every data set's rows beside the Metrix paper's CUB-200 rows.

    python -m domains.metric.metrix.table --metrics results/metric/esc50/metrics.json \
        results/metric/species/metrics.json --out results/metric/table.tsv

One row per data set and method: ``recall_at_k`` and ``recall_at_k_std`` for every k, ``map_at_r``,
``utilization``, ``utilization_mixed`` (each with its ``_std`` over seeds), ``n_seeds``, ``r1_vs_clean`` (mean
paired Recall@1 difference to the row's clean loss) and ``seeds_better``, and ``source``: ``ours`` for trained
rows, ``baseline`` for the untrained network and TNF, ``paper`` for the CUB-200 rows (Venkataramanan et al., ICLR
2022, ResNet-50, 512-d: the official README's table; "Metrix" there is Metrix/feature; i-Mix and MoCHi from the
poster's comparison, contrastive loss; values as fractions, blank where the paper gives none).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ssl_core.atomic import atomic_path
from ssl_core.errors import InputError, report_input_errors

__all__ = ["PAPER_CUB", "rows", "table", "main"]

# (method, R@1, R@2, R@4) on CUB-200 in percent, from the Metrix paper (official README / poster)
PAPER_CUB = [
    ("contrastive", 64.7, 75.9, 84.6),
    ("contrastive + Metrix/feature", 67.4, 77.9, 85.7),
    ("contrastive + Metrix/input", 66.3, 77.1, 85.2),
    ("contrastive + Metrix/embed", 66.4, 77.6, 85.4),
    ("multi-similarity", 67.8, 77.8, 85.6),
    ("multi-similarity + Metrix/feature", 71.4, 80.6, 86.8),
    ("multi-similarity + Metrix/input", 69.0, 79.1, 86.0),
    ("multi-similarity + Metrix/embed", 70.2, 80.4, 86.7),
    ("proxy anchor", 69.5, 79.3, 87.0),
    ("proxy anchor + Metrix/feature", 71.0, 81.8, 88.2),
    ("proxy anchor + Metrix/input", 70.5, 81.2, 87.8),
    ("proxy anchor + Metrix/embed", 70.4, 81.1, 87.9),
    ("contrastive + i-Mix", 65.8, None, None),
    ("contrastive + MoCHi", 65.2, None, None),
]
BASELINES = ("untrained", "TNF")


def rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for method, ms in metrics["methods"].items():
        row: dict[str, Any] = {"dataset": metrics["dataset"], "method": method}
        for metric, v in ms.items():
            row[metric] = v["mean"]
            row[f"{metric}_std"] = v["std"]
        row["n_seeds"] = len(next(iter(ms.values()))["per_seed"])
        paired = metrics.get("paired", {}).get(method)
        row["r1_vs_clean"] = paired["recall_at_1_diff_mean"] if paired else None
        row["seeds_better"] = paired["seeds_better"] if paired else None
        row["source"] = "baseline" if method in BASELINES else "ours"
        out.append(row)
    return out


def table(paths: list[Path]) -> pd.DataFrame:
    out: list[dict[str, Any]] = []
    for path in paths:
        try:
            metrics = json.loads(path.read_text())
            out += rows(metrics)
        except (OSError, ValueError, KeyError, StopIteration) as exc:
            raise InputError(f"{path}: not a metrics.json of the metric evaluate stage ({exc})") from None
    for method, r1, r2, r4 in PAPER_CUB:
        out.append({"dataset": "CUB-200", "method": method, "recall_at_1": r1 / 100,
                    "recall_at_2": None if r2 is None else r2 / 100, "recall_at_4": None if r4 is None else r4 / 100,
                    "source": "paper"})
    df = pd.DataFrame(out)
    recall = sorted((c for c in df.columns if c.startswith("recall_at_") and not c.endswith("_std")),
                    key=lambda c: int(c.rsplit("_", 1)[1]))
    cols = ["dataset", "method"]
    for c in [*recall, "map_at_r", "utilization", "utilization_mixed"]:
        if c in df.columns:
            cols += [c, f"{c}_std"] if f"{c}_std" in df.columns else [c]
    cols += ["n_seeds", "r1_vs_clean", "seeds_better", "source"]
    for c in cols:
        if c not in df.columns:
            df[c] = None
    return df[cols]


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.metric.metrix.table", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", required=True, nargs="+", type=Path, help="metrics.json of every data set")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    df = table(args.metrics)
    with atomic_path(args.out) as tmp:
        df.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    print(f"{len(df)} rows -> {args.out}")


if __name__ == "__main__":
    main()
