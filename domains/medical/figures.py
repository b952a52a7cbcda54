"""Figures of the medical pipeline: our metrics beside the paper's (bars with seed spread), and training curves.

    python -m domains.medical.figures --metrics results/medical/*/*/metrics.json \
        --histories results/medical/*/*/seed*/history.csv --bars bars.png --curves curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from domains.medical.datasets import METHOD_LABELS, get_spec
from domains.medical.metrics import metric_names
from domains.medical.paper import PAPER
from ssl_core.errors import report_input_errors
from ssl_core.plotting import PALETTE, apply_style, save_figure

LABELS = {"accuracy": "ACC", "f1": "F1", "auc": "AUC", "f1_weighted": "F1 (weighted)", "f1_macro": "F1 (macro)"}


def plot_metrics_vs_paper(metrics: list[dict], dest: Path) -> None:
    """One panel per data set: grouped bars per metric for our methods (mean, error bar = std over seeds, dots =
    single seeds) and the paper's rows. Each method keeps one colour across panels."""
    apply_style()
    by_ds: dict[str, list[dict]] = {}
    for m in metrics:
        by_ds.setdefault(m["dataset"], []).append(m)
    order = [*METHOD_LABELS.values(), *sorted({k for rows in PAPER.values() for k in rows})]
    colour = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(order)}
    n = max(1, len(by_ds))
    fig, axes = plt.subplots(1, n, figsize=(4.8 * n, 3.8), squeeze=False)
    for ax, (ds, ours) in zip(axes[0], sorted(by_ds.items())):
        names = metric_names(get_spec(ds).n_classes)
        bars = [(METHOD_LABELS[m["method"]], {k: m[k] for k in names}, m) for m in sorted(ours, key=lambda m: m["method"])]
        bars += [(label, values, None) for label, values in PAPER.get(ds, {}).items()]
        width = 0.8 / len(bars)
        x = np.arange(len(names))
        for k, (label, values, m) in enumerate(bars):
            pos = x + (k - (len(bars) - 1) / 2) * width
            yerr = [100 * m["std"][n] for n in names] if m else None
            ax.bar(pos, [100 * values[n] for n in names], width, yerr=yerr, capsize=3, label=label, color=colour[label])
            if m:
                for p, n in zip(pos, names):
                    seeds = 100 * np.asarray(m["per_seed"][n])
                    ax.scatter(np.full(len(seeds), p), seeds, s=7, color="black", zorder=3)
        ax.set_xticks(x, [LABELS[n] for n in names])
        ax.set_ylim(0, 100)
        ax.set_ylabel("test score (%)")
        ax.set_title(f"{ds} ({len(ours[0]['seeds'])} seeds)")
    seen: dict[str, object] = {}
    for ax in axes[0]:
        for h, l in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(l, h)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=len(seen), fontsize=9, bbox_to_anchor=(0.5, -0.07))
    save_figure(fig, dest)


def plot_training_curves(histories: list[Path], dest: Path) -> None:
    """Per data set (columns): training loss and validation accuracy per epoch for each method, mean over seeds
    with the range between the lowest and highest seed shaded. Paths are ``<dataset>/<method>/seed<k>/history.csv``."""
    apply_style()
    runs: dict[str, dict[str, list[pd.DataFrame]]] = {}
    for path in histories:
        method, ds = path.parent.parent.name, path.parent.parent.parent.name
        runs.setdefault(ds, {}).setdefault(method, []).append(pd.read_csv(path))
    n = max(1, len(runs))
    fig, axes = plt.subplots(2, n, figsize=(4.8 * n, 5.8), squeeze=False, sharex="col")
    for col, (ds, methods) in enumerate(sorted(runs.items())):
        for row, (key, label) in enumerate([("train_total", "training loss"), ("val_acc", "validation accuracy (%)")]):
            ax = axes[row][col]
            for k, (method, frames) in enumerate(sorted(methods.items())):
                if key not in frames[0].columns:
                    continue
                curves = pd.concat([f.set_index("epoch")[key] for f in frames], axis=1).dropna(how="all")
                scale = 100 if key == "val_acc" else 1
                mean = curves.mean(axis=1) * scale
                colour = PALETTE[list(METHOD_LABELS).index(method) % len(PALETTE)]
                ax.plot(mean.index + 1, mean.values, color=colour, label=METHOD_LABELS.get(method, method))
                ax.fill_between(mean.index + 1, curves.min(axis=1) * scale, curves.max(axis=1) * scale, alpha=0.2,
                                color=colour)
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title(f"{ds} (line: mean over seeds, band: seed range)", fontsize=10)
                ax.set_yscale("log")
                ax.legend(fontsize=8)
            else:
                ax.set_xlabel("epoch")
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
