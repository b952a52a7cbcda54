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

``--protocol resplit`` builds the re-split protocol's table (``results/medical/resplit/table.tsv``): the same rows
over the re-splits (one seed each, the seed the re-split's index), each metric's standard error over them
(``<metric>_se``) beside its standard deviation, and no paper rows (the paper's comparison is the fixed split).
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


def build_table(metrics: list[dict], statuses: list[dict], protocol: str = "fixed") -> pd.DataFrame:
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
            runs = f"{len(m['seeds'])} re-splits" if protocol == "resplit" else f"{len(m['seeds'])} seeds"
            row = {"dataset": ds, "method": METHOD_LABELS[m["method"]],
                   "source": f"this workflow, {runs}, {trained}selection={m['selection']}"}
            for n in names:
                row[n] = m[n]
                row[f"{n}_std"] = m["std"][n]
                if protocol == "resplit":
                    row[f"{n}_se"] = m["std"][n] / np.sqrt(len(m["seeds"])) if len(m["seeds"]) > 1 else None
            if m["method"] != REFERENCE:
                row.update(paired_to_reference(m, reference))
            rows.append(row)
        if not status["complete"]:
            missing = ", ".join(f"{x['file']} ({x['url']})" for x in status["missing"])
            rows.append({"dataset": ds, "method": "all methods (ours)", "source": f"not run: missing files {missing}"})
        for method, values in (PAPER.get(ds, {}) if protocol == "fixed" else {}).items():
            rows.append({"dataset": ds, "method": method, "source": SOURCE, **values})
    table = pd.DataFrame(rows)
    metric_cols = [c for n in ("accuracy", "f1", "auc", "f1_weighted", "f1_macro") for c in (n, f"{n}_std", f"{n}_se")
                   if c in table.columns]
    metric_cols += [c for c in (f"accuracy_minus_{REFERENCE}", f"accuracy_minus_{REFERENCE}_se",
                                f"better_than_{REFERENCE}") if c in table.columns]
    return table[["dataset", "method", *metric_cols, "source"]]


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.medical.m3col.table", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="*", default=[], type=Path, help="metrics.json of each data set that ran")
    p.add_argument("--statuses", nargs="+", required=True, type=Path, help="fetch status of every configured data set")
    p.add_argument("--protocol", choices=("fixed", "resplit"), default="fixed",
                   help="fixed: the paper's comparison (with its rows); resplit: the re-split protocol (standard errors)")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    table = build_table([json.loads(m.read_text()) for m in args.metrics], [json.loads(s.read_text()) for s in args.statuses],
                        args.protocol)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
