"""The paper's table with our numbers beside it: ``results/medical/table.tsv``.

One row per (data set, method): our M3CoL and MOGONET-style runs (mean +- std over seeds), the paper's M3CoL and
MOGONET, each with its source; data sets whose files could not be had get a row saying which files are missing and where they
come from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from domains.medical.data.datasets import METHOD_LABELS
from domains.medical.m3col.metrics import metric_names_of
from domains.medical.m3col.paper import PAPER, SOURCE
from ssl_core.atomic import atomic_path
from ssl_core.errors import report_input_errors


def build_table(metrics: list[dict], statuses: list[dict]) -> pd.DataFrame:
    rows = []
    ours: dict[str, list[dict]] = {}
    for m in metrics:
        ours.setdefault(m["dataset"], []).append(m)
    for status in statuses:
        ds = status["dataset"]
        for m in ours.get(ds, []):
            names = metric_names_of(m)
            trained = f"{m['epochs']} epochs, " if m["epochs"] else ""
            row = {"dataset": ds, "method": METHOD_LABELS[m["method"]],
                   "source": f"this workflow, {len(m['seeds'])} seeds, {trained}selection={m['selection']}"}
            for n in names:
                row[n] = m[n]
                row[f"{n}_std"] = m["std"][n]
            rows.append(row)
        if not status["complete"]:
            missing = ", ".join(f"{x['file']} ({x['url']})" for x in status["missing"])
            rows.append({"dataset": ds, "method": "all methods (ours)", "source": f"not run: missing files {missing}"})
        for method, values in PAPER.get(ds, {}).items():
            rows.append({"dataset": ds, "method": method, "source": SOURCE, **values})
    table = pd.DataFrame(rows)
    metric_cols = [c for c in ["accuracy", "accuracy_std", "f1", "f1_std", "auc", "auc_std", "f1_weighted",
                               "f1_weighted_std", "f1_macro", "f1_macro_std"] if c in table.columns]
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
