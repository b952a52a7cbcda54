"""Aggregate the per-seed runs of one data set into ``metrics.json``: mean, standard deviation and per-seed values.

    python -m domains.medical.m3col.evaluate --runs results/medical/ROSMAP/m3col/seed*/run.json \
        --out results/medical/ROSMAP/m3col/metrics.json

``metrics.json`` maps each metric name to its mean over seeds, with ``std`` (metric -> sample standard deviation),
``per_seed`` (metric -> list, in seed order), ``seeds`` and the timing of the runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ssl_core.atomic import write_json
from ssl_core.errors import InputError, report_input_errors


def aggregate(runs: list[dict]) -> dict:
    """Mean, std and per-seed values of every metric of ``runs`` (one data set)."""
    if not runs:
        raise InputError("no runs to aggregate")
    kinds = {(r["dataset"], r.get("method", "m3col")) for r in runs}
    if len(kinds) != 1:
        raise InputError(f"runs of several data sets or methods given: {sorted(kinds)}")
    runs = sorted(runs, key=lambda r: r["seed"])
    names = list(runs[0]["metrics"])
    out: dict = {"dataset": runs[0]["dataset"], "method": runs[0].get("method", "m3col")}
    for name in names:
        out[name] = float(np.mean([r["metrics"][name] for r in runs]))
    out["std"] = {n: float(np.std([r["metrics"][n] for r in runs], ddof=1)) if len(runs) > 1 else 0.0 for n in names}
    out["per_seed"] = {n: [r["metrics"][n] for r in runs] for n in names}
    out["seeds"] = [r["seed"] for r in runs]
    out["selection"] = runs[0]["selection"]
    # one number when every run trained as long; "150-300" when they differ (settings chosen per re-split)
    epochs = sorted({r["epochs"] for r in runs})
    out["epochs"] = epochs[0] if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"
    out["fit_seconds_mean"] = float(np.mean([r["fit_seconds"] for r in runs]))
    # None: a run resumed from its last epoch's checkpoint trained no epoch in its own process
    epoch_seconds = [r["epoch_seconds_median"] for r in runs if r["epoch_seconds_median"] is not None]
    out["epoch_seconds_median"] = float(np.median(epoch_seconds)) if epoch_seconds else None
    return out


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.medical.m3col.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    runs = []
    for path in args.runs:
        try:
            runs.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read run record ({exc})") from None
    write_json(args.out, aggregate(runs))


if __name__ == "__main__":
    main()
