"""Figures: MRR of every method on every benchmark, and the training curves (loss, validation MRR) of each run.

    python -m domains.code.cocosoda.figures --metrics results/code/*/metrics.json \
        --histories results/code/train/*/history.csv --runs results/code/train/*/run.json \
        --mrr results/code/figures/mrr.png --curves results/code/figures/training_curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ssl_core.errors import report_input_errors
from ssl_core.plotting import PALETTE, apply_style, save_figure

__all__ = ["training_steps", "method_label", "mrr_figure", "curves_figure", "main"]

LABELS = {"bm25": "BM25", "bm25_split": "BM25 (identifiers split)", "untrained": "encoder, untrained",
          "cocosoda": "CoCoSoDa", "no_sda": "w/o soft augmentation", "no_queue": "w/o momentum queue",
          "no_intra": "w/o intra-modal loss", "hybrid_rrf": "RRF(BM25 split, dense)",
          "pretrained": "pretrained, zero-shot", "pretrained_cocosoda": "pretrained + CoCoSoDa"}


def training_steps(runs: list[Path]) -> dict[str, int]:
    """Optimizer steps of each training run, from its ``run.json``, keyed by variant name."""
    infos = [json.loads(path.read_text()) for path in runs]
    return {info["variant"]: int(info["epochs"]) * int(info["steps_per_epoch"]) for info in infos}


def method_label(method: str, steps: dict[str, int]) -> str:
    """Legend text of a method; trained runs carry their step count (the ablations train fewer steps)."""
    label = LABELS.get(method, method)
    return f"{label} ({steps[method]:,} steps)" if method in steps else label


def mrr_figure(metrics: list[Path], dest: Path, steps: dict[str, int] | None = None) -> None:
    """Grouped bars: one group per benchmark, one bar per method (trained ones labelled with their steps)."""
    steps = steps or {}
    data = [json.loads(p.read_text()) for p in metrics]
    methods = list(dict.fromkeys(m for d in data for m in d["rows"]))
    dense = {d.get("hybrid_dense") for d in data} - {None}
    labels = {m: method_label(m, steps) for m in methods}
    if "hybrid_rrf" in labels and len(dense) == 1:  # the dense row chosen on the dev split
        labels["hybrid_rrf"] = f"RRF(BM25 split, {LABELS.get(next(iter(dense)), next(iter(dense)))})"
    fig, ax = plt.subplots(figsize=(1.6 + 1.9 * len(data), 3.8))
    width = 0.8 / len(methods)
    x = np.arange(len(data))
    for j, method in enumerate(methods):
        vals = [d["rows"].get(method, {}).get("mrr", np.nan) for d in data]
        bars = ax.bar(x + (j - (len(methods) - 1) / 2) * width, vals, width, label=labels[method],
                      color=PALETTE[j % len(PALETTE)])
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, [f"{d['benchmark']}\n({d['n_queries']} q x {d['n_candidates']} cand.)" for d in data])
    ax.set_ylabel("MRR (whole candidate pool)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncols=2, loc="upper left")
    ax.set_title("Code search: MRR per method and benchmark")
    save_figure(fig, dest)


def curves_figure(histories: list[Path], dest: Path) -> None:
    """Training loss and validation MRR per epoch, one line per training run."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for j, path in enumerate(histories):
        h = pd.read_csv(path)
        name = path.parent.name
        kw = {"label": LABELS.get(name, name), "color": PALETTE[(j + 2) % len(PALETTE)], "marker": "o", "ms": 3}
        a1.plot(h["epoch"] + 1, h["loss"], **kw)
        if "valid_mrr" in h:
            a2.plot(h["epoch"] + 1, h["valid_mrr"], **kw)
    a1.set(xlabel="epoch", ylabel="training loss", title="Loss")
    a2.set(xlabel="epoch", ylabel="MRR", title="Validation MRR (corpus valid split)")
    a2.legend(fontsize=8)
    save_figure(fig, dest)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.code.cocosoda.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="+", required=True, type=Path)
    p.add_argument("--histories", nargs="*", default=[], type=Path)
    p.add_argument("--runs", nargs="*", default=[], type=Path, help="run.json of each training run (legend step counts)")
    p.add_argument("--mrr", required=True, type=Path)
    p.add_argument("--curves", required=True, type=Path)
    args = p.parse_args(argv)
    apply_style()
    mrr_figure(args.metrics, args.mrr, training_steps(args.runs))
    curves_figure(args.histories, args.curves)


if __name__ == "__main__":
    main()
