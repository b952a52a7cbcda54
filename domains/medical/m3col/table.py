"""The paper's table with our numbers beside it: ``results/medical/table.tsv``.

One row per (data set, method): our M3CoL, MOGONET and logistic-regression runs (mean +- std over seeds), the
paper's M3CoL and MOGONET, each with its source; data sets whose files could not be had get a row saying which files
are missing and where they come from.

Each of our methods other than logistic regression also gets its **paired difference** to the logistic regression:
per seed both are tested on the same test rows (the fixed test split, or the seed's own draw), so the accuracy
difference is taken seed by seed. ``accuracy_minus_logreg`` is its mean, ``accuracy_minus_logreg_se`` its standard
error (empty with one pair) and ``better_than_logreg`` the number of seeds on which the method is more accurate, out
of the pairs (``3/5``). Why: the spread between seeds (and TCGA-BRCA's splits) is of the order of the differences
between methods, so only the paired difference shows one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from domains.medical.data.datasets import METHOD_LABELS
from domains.medical.m3col.metrics import metric_names_of
from domains.medical.m3col.paper import PAPER, SOURCE
from ssl_core.atomic import atomic_path
from ssl_core.errors import report_input_errors


REFERENCE = "logreg"


def paired_to_reference(metrics: dict, reference: dict | None, name: str = "accuracy") -> dict[str, object]:
    """``metrics`` minus ``reference`` (two methods' ``metrics.json`` of one data set) on the seeds both ran: the
    table's ``<name>_minus_logreg``, ``<name>_minus_logreg_se`` and ``better_than_logreg`` cells (empty without a
    common seed)."""
    if reference is None:
        return {}
    ref = dict(zip(reference["seeds"], reference["per_seed"][name]))
    d = np.array([v - ref[s] for s, v in zip(metrics["seeds"], metrics["per_seed"][name]) if s in ref])
    if not len(d):
        return {}
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None
    return {f"{name}_minus_{REFERENCE}": float(d.mean()), f"{name}_minus_{REFERENCE}_se": se,
            f"better_than_{REFERENCE}": f"{int((d > 0).sum())}/{len(d)}"}


def build_table(metrics: list[dict], statuses: list[dict]) -> pd.DataFrame:
    rows = []
    ours: dict[str, list[dict]] = {}
    for m in metrics:
        ours.setdefault(m["dataset"], []).append(m)
    for status in statuses:
        ds = status["dataset"]
        reference = next((m for m in ours.get(ds, []) if m["method"] == REFERENCE), None)
        for m in ours.get(ds, []):
            names = metric_names_of(m)
            trained = f"{m['epochs']} epochs, " if m["epochs"] else ""
            row = {"dataset": ds, "method": METHOD_LABELS[m["method"]],
                   "source": f"this workflow, {len(m['seeds'])} seeds, {trained}selection={m['selection']}"}
            for n in names:
                row[n] = m[n]
                row[f"{n}_std"] = m["std"][n]
            if m["method"] != REFERENCE:
                row.update(paired_to_reference(m, reference))
            rows.append(row)
        if not status["complete"]:
            missing = ", ".join(f"{x['file']} ({x['url']})" for x in status["missing"])
            rows.append({"dataset": ds, "method": "all methods (ours)", "source": f"not run: missing files {missing}"})
        for method, values in PAPER.get(ds, {}).items():
            rows.append({"dataset": ds, "method": method, "source": SOURCE, **values})
    table = pd.DataFrame(rows)
    metric_cols = [c for c in ["accuracy", "accuracy_std", "f1", "f1_std", "auc", "auc_std", "f1_weighted",
                               "f1_weighted_std", "f1_macro", "f1_macro_std", f"accuracy_minus_{REFERENCE}",
                               f"accuracy_minus_{REFERENCE}_se", f"better_than_{REFERENCE}"] if c in table.columns]
    return table[["dataset", "method", *metric_cols, "source"]]


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.medical.m3col.table", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="*", default=[], type=Path, help="metrics.json of each data set that ran")
    p.add_argument("--statuses", nargs="+", required=True, type=Path, help="fetch status of every configured data set")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    table = build_table([json.loads(m.read_text()) for m in args.metrics], [json.loads(s.read_text()) for s in args.statuses])
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
