"""Figures of the medical pipeline: our metrics beside the paper's (bars with seed spread), and training curves.

    python -m domains.medical.figures --metrics results/medical/*/metrics.json \
        --histories results/medical/*/seed*/history.csv --bars bars.png --curves curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from domains.medical.datasets import get_spec
from domains.medical.metrics import metric_names
from domains.medical.paper import PAPER
from ssl_core.errors import report_input_errors
from ssl_core.plotting import PALETTE, apply_style, save_figure

LABELS = {"accuracy": "ACC", "f1": "F1", "auc": "AUC", "f1_weighted": "F1 (weighted)", "f1_macro": "F1 (macro)"}


def plot_metrics_vs_paper(metrics: list[dict], dest: Path) -> None:
    """One panel per data set: grouped bars per metric for ours (mean, error bar = std, dots = seeds) and the paper."""
    apply_style()
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(4.6 * max(1, len(metrics)), 3.6), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        ds = m["dataset"]
        names = metric_names(get_spec(ds).n_classes)
        methods = [("M3CoL (ours)", {n: m[n] for n in names})] + list(PAPER.get(ds, {}).items())
        width = 0.8 / len(methods)
        x = np.arange(len(names))
        for k, (method, values) in enumerate(methods):
            pos = x + (k - (len(methods) - 1) / 2) * width
            heights = [100 * values[n] for n in names]
            yerr = [100 * m["std"][n] for n in names] if k == 0 else None
            ax.bar(pos, heights, width, yerr=yerr, capsize=3, label=method, color=PALETTE[k])
            if k == 0:
                for p, n in zip(pos, names):
                    seeds = 100 * np.asarray(m["per_seed"][n])
                    ax.scatter(np.full(len(seeds), p), seeds, s=8, color="black", zorder=3)
        ax.set_xticks(x, [LABELS[n] for n in names])
        ax.set_ylim(0, 100)
        ax.set_ylabel("test score (%)")
        ax.set_title(f"{ds} ({len(m['seeds'])} seeds, {m['epochs']} epochs)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, bbox_to_anchor=(0.5, -0.06))
    save_figure(fig, dest)


def plot_training_curves(histories: list[Path], dest: Path) -> None:
    """Per data set: training loss and validation accuracy per epoch, mean over seeds with the seed range shaded."""
    apply_style()
    by_ds: dict[str, list[pd.DataFrame]] = {}
    for path in histories:
        by_ds.setdefault(path.parent.parent.name, []).append(pd.read_csv(path))
    fig, axes = plt.subplots(2, max(1, len(by_ds)), figsize=(4.6 * max(1, len(by_ds)), 5.6), squeeze=False, sharex="col")
    for col, (ds, frames) in enumerate(sorted(by_ds.items())):
        for row, (key, label) in enumerate([("train_total", "training loss"), ("val_acc", "validation accuracy (%)")]):
            ax = axes[row][col]
            if key not in frames[0].columns:
                ax.set_visible(False)
                continue
            curves = pd.concat([f.set_index("epoch")[key] for f in frames], axis=1).dropna(how="all")
            scale = 100 if key == "val_acc" else 1
            mean = curves.mean(axis=1) * scale
            ax.plot(mean.index + 1, mean.values, color=PALETTE[row], label="mean over seeds")
            ax.fill_between(mean.index + 1, curves.min(axis=1) * scale, curves.max(axis=1) * scale, alpha=0.25,
                            color=PALETTE[row], label="seed range")
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title(ds)
                ax.set_yscale("log")
            else:
                ax.set_xlabel("epoch")
            ax.legend(fontsize=8)
    save_figure(fig, dest)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.medical.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="*", default=[], type=Path)
    p.add_argument("--histories", nargs="*", default=[], type=Path)
    p.add_argument("--bars", required=True, type=Path)
    p.add_argument("--curves", required=True, type=Path)
    args = p.parse_args(argv)
    plot_metrics_vs_paper([json.loads(m.read_text()) for m in args.metrics], args.bars)
    plot_training_curves(args.histories, args.curves)


if __name__ == "__main__":
    main()
