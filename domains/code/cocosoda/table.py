"""Gather every benchmark's metrics into one table (one row per benchmark and method) with the training runs.

    python -m domains.code.cocosoda.table --metrics results/code/*/metrics.json --runs results/code/train/*/run.json \
        --out results/code/table.tsv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ssl_core.atomic import write_text
from ssl_core.errors import InputError, report_input_errors

__all__ = ["table_rows", "main"]

COLUMNS = ["benchmark", "method", "mrr", "recall_at_1", "recall_at_5", "recall_at_10", "n_queries", "n_candidates",
           "train_minutes", "step_seconds", "vs", "mrr_diff", "diff_low", "diff_high", "verdict"]


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from None


def table_rows(metrics: list[Path], runs: list[Path]) -> list[dict]:
    """One dict per (benchmark, method) with the training time of the method where it was trained and, for a
    method with a target comparison, the row it is compared with (``vs``), the MRR difference, its 95 % paired
    bootstrap interval and the verdict (``win``, ``tie``, ``loss``)."""
    run_info = {}
    for r in runs:
        run = _read(r)
        run_info[run["variant"]] = run
    rows = []
    for m in metrics:
        met = _read(m)
        for method, vals in met["rows"].items():
            run = run_info.get(method, {})
            pair = met.get("paired", {}).get(method, {})
            rows.append({"benchmark": met["benchmark"], "method": method, **vals, "n_queries": met["n_queries"],
                         "n_candidates": met["n_candidates"],
                         "train_minutes": run["fit_seconds"] / 60 if run else None,
                         "step_seconds": run.get("step_seconds") if run else None,
                         "vs": pair.get("vs"), "mrr_diff": pair.get("diff"), "diff_low": pair.get("low"),
                         "diff_high": pair.get("high"), "verdict": pair.get("verdict")})
    return rows


def _fmt(v) -> str:
    if v is None:
        return "NA"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.code.cocosoda.table", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="+", required=True, type=Path)
    p.add_argument("--runs", nargs="*", default=[], type=Path)
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    rows = table_rows(args.metrics, args.runs)
    text = "\t".join(COLUMNS) + "\n" + "".join("\t".join(_fmt(r.get(c)) for c in COLUMNS) + "\n" for r in rows)
    write_text(args.out, text)
    print(text, end="")


if __name__ == "__main__":
    main()
