"""One table for the whole audio domain (``results/audio/table.tsv``) from any number of metric JSONs.

    python -m domains.audio.table --metrics results/audio/semisup/esc10/metrics.json ... --out results/audio/table.tsv

Convention, so every part of the domain (semi-supervised classification, CLAP / TeminAL / zero-shot) adds its
rows without this module knowing its metrics: each metrics JSON carries a list ``table_rows`` of objects with
the keys of :data:`COLUMNS` (``value`` / ``std`` as fractions or plain numbers, ``std`` and ``n`` may be null;
``source`` says where a number comes from: "this workflow, ..." or the paper and table it is copied from).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from ssl_core.atomic import atomic_path
from ssl_core.errors import InputError, report_input_errors

COLUMNS = ["part", "dataset", "method", "metric", "value", "std", "n", "source"]
REQUIRED = ["part", "dataset", "method", "metric", "value", "source"]


def table_rows(path: Path) -> list[dict]:
    """The ``table_rows`` of one metrics JSON, checked."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from None
    rows = data.get("table_rows") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise InputError(f"{path}: no 'table_rows' list")
    for i, row in enumerate(rows):
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise InputError(f"{path}: table_rows[{i}] lacks {', '.join(missing)}")
    return rows


def build_table(paths: list[Path]) -> pd.DataFrame:
    rows = [r for p in paths for r in table_rows(p)]
    table = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=COLUMNS)
    table["n"] = pd.to_numeric(table["n"]).astype("Int64")  # run counts print as integers, blank when absent
    return table


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.table", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="+", required=True, type=Path, help="metrics JSONs with a table_rows list")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    table = build_table(args.metrics)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
