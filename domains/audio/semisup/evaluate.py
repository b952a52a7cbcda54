"""Collect one semi-supervised data set's runs into ``results/audio/semisup/<DATASET>/metrics.json``.

    python -m domains.audio.semisup.evaluate --dataset esc10 --results <run>/result.json ... --out metrics.json

``error_rate`` per method: ``mean``, ``std`` (population std over runs, 0 for one run), ``per_run`` (list of
``{fold, seed, test_error, val_error}``), with the split sizes and the mean training step time; ``paper``: the
published error rates this data set is compared with; ``table_rows``: our rows and the paper's for
``results/audio/table.tsv`` (see ``domains/audio/table.py``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ssl_core.atomic import write_json
from ssl_core.errors import InputError, report_input_errors

from domains.audio.semisup.methods import METHODS, PRETRAINED_METHODS, SELF_TRAINING_METHODS

# Error rates quoted in issue 6 from the audio semi-supervised comparison paper (WRN-28-2, 10 % of the labels, ESC-10 5-fold).
PAPER = {"esc10": {"remixmatch": 0.1200, "fixmatch": 0.1333}}
PAPER_SOURCE = "audio semi-supervised comparison paper (as quoted in issue 6): WRN-28-2, 10 % labels, ESC-10 5-fold"
LABELS = {"supervised_10": "supervised, 10 % labels", "supervised_100": "supervised, 100 % labels",
          "imix_finetune": "i-Mix pretraining + supervised 10 %",
          "mixmatch": "MixMatch", "fixmatch": "FixMatch", "fixmatch_mixup": "FixMatch + mixup",
          "selftrain_mixup": "self-training + mixup",
          "remixmatch": "ReMixMatch"}


def summarise(dataset: str, results: list[dict]) -> dict:
    """metrics.json content from the runs' result.json contents."""
    by_method: dict[str, list[dict]] = {}
    for r in results:
        if r.get("dataset") != dataset or r.get("method") not in METHODS:
            raise InputError(f"a result for {r.get('dataset')}/{r.get('method')} was given for data set {dataset}")
        by_method.setdefault(r["method"], []).append(r)
    error_rate, rows = {}, []
    for method in [m for m in METHODS if m in by_method]:
        runs = sorted(by_method[method], key=lambda r: (r["fold"], r["seed"]))
        errs = np.array([r["test_error"] for r in runs])
        error_rate[method] = {
            "mean": float(errs.mean()), "std": float(errs.std()), "n_runs": len(runs),
            "per_run": [{"fold": r["fold"], "seed": r["seed"], "test_error": r["test_error"],
                         "val_error": r["val_error"]} for r in runs],
            "n_labelled": int(np.mean([r["n_labelled"] for r in runs])),
            "n_unlabelled": int(np.mean([r["n_unlabelled"] for r in runs])),
            "n_test": int(np.mean([r["n_test"] for r in runs])),
            "step_time_s": _mean_or_none([r["step_time_s"] for r in runs]),
            "steps": runs[0]["steps"],
        }
        folds = sorted({r["fold"] for r in runs})
        seeds = sorted({r["seed"] for r in runs})
        rows.append({"part": "semisup", "dataset": dataset, "method": f"{LABELS[method]} (ours)", "metric": "error_rate",
                     "value": error_rate[method]["mean"], "std": error_rate[method]["std"], "n": len(runs),
                     "source": f"this workflow: small CNN on log-mels, folds {folds}, seeds {seeds}, "
                               f"{runs[0]['steps']} steps, last step"})
    paper = PAPER.get(dataset, {})
    for method, value in paper.items():
        rows.append({"part": "semisup", "dataset": dataset, "method": f"{LABELS[method]} (paper)", "metric": "error_rate",
                     "value": value, "std": None, "n": None, "source": PAPER_SOURCE})
    out = {"dataset": dataset, "error_rate": error_rate, "paper": {"error_rate": paper, "source": PAPER_SOURCE},
           "table_rows": rows}
    sup = error_rate.get("supervised_10", {}).get("mean")
    if sup is not None:
        out["beats_supervised_10"] = {m: error_rate[m]["mean"] < sup for m in PRETRAINED_METHODS + SELF_TRAINING_METHODS
                                      if m in error_rate}
        out["minus_supervised_10"] = paired_minus_supervised_10(error_rate)
    return out


def _mean_or_none(values: list[float | None]) -> float | None:
    """Mean of the values that are not None (a run resumed after its last epoch timed no step); None if none."""
    timed = [v for v in values if v is not None]
    return float(np.mean(timed)) if timed else None


def paired_differences(runs: list[dict], keys: tuple[str, ...] = ("fold", "seed"),
                       reference: str = "supervised_10") -> dict[str, dict]:
    """Per method of ``runs`` (dicts with ``method``, ``test_error`` and ``keys``): its runs ``n`` and mean
    ``test_error``, and its test error minus ``reference``'s on the same ``keys`` (the same labelled and test clips):
    mean ``diff``, standard error ``diff_se`` (NaN with fewer than two pairs), ``n_pairs``, and how many pairs are
    ``better`` / ``worse``. Why: the spread between folds is several times the differences between methods, so only
    the paired difference can show one."""
    ref = {tuple(r[k] for k in keys): r["test_error"] for r in runs if r["method"] == reference}
    out = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        mine = [r for r in runs if r["method"] == method]
        d = np.array([r["test_error"] - ref[k] for r in mine if (k := tuple(r[k] for k in keys)) in ref])
        out[method] = {"n": len(mine), "test_error": float(np.mean([r["test_error"] for r in mine])),
                       "diff": float(d.mean()) if len(d) else float("nan"),
                       "diff_se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan"),
                       "n_pairs": int(len(d)), "better": int((d < 0).sum()), "worse": int((d > 0).sum())}
    return out


def paired_minus_supervised_10(error_rate: dict) -> dict:
    """``metrics.json``'s ``minus_supervised_10``: :func:`paired_differences` over the fold and seed of every method
    with at least one pair (``mean``, ``se``: None with one pair, ``n_pairs``, ``better``, ``worse``)."""
    runs = [{"method": m, **r} for m, e in error_rate.items() for r in e["per_run"]]
    return {m: {"mean": d["diff"], "se": d["diff_se"] if d["n_pairs"] > 1 else None, "n_pairs": d["n_pairs"],
                "better": d["better"], "worse": d["worse"]}
            for m, d in paired_differences(runs).items() if m != "supervised_10" and d["n_pairs"]}


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.semisup.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="esc10, fsdd or a user data set (audio.user_datasets)")
    p.add_argument("--results", nargs="+", required=True, type=Path, help="result.json of every run")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    results = []
    for path in args.results:
        try:
            results.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a readable result ({exc})") from None
    metrics = summarise(args.dataset, results)
    write_json(args.out, metrics)
    paired = metrics.get("minus_supervised_10", {})
    for method, e in metrics["error_rate"].items():
        d = paired.get(method)
        vs = f", minus supervised_10 {100 * d['mean']:+.2f} % ({d['better']} better / {d['worse']} worse)" if d else ""
        print(f"{args.dataset} {method:15s} error {100 * e['mean']:6.2f} +- {100 * e['std']:5.2f} % ({e['n_runs']} runs){vs}")


if __name__ == "__main__":
    main()
