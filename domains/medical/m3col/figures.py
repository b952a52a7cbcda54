"""Figures of the medical pipeline: our metrics beside the paper's (bars), training curves, per-seed scores, and
the paper's table with ours as an image.

    python -m domains.medical.m3col.figures --metrics results/medical/*/*/metrics.json \
        --histories results/medical/*/*/seed*/history.csv --table results/medical/table.tsv \
        --bars bars.png --curves curves.png --seeds seeds.png --table-figure table.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from domains.medical.data.datasets import METHOD_LABELS
from domains.medical.m3col.metrics import metric_names_of
from domains.medical.m3col.paper import PAPER
from ssl_core.errors import report_input_errors
from ssl_core.plotting import PALETTE, apply_style, save_figure

LABELS = {"accuracy": "ACC", "f1": "F1", "auc": "AUC", "f1_weighted": "F1 (weighted)", "f1_macro": "F1 (macro)"}


def _by_dataset(metrics: list[dict]) -> dict[str, list[dict]]:
    """metrics.json records grouped by data set."""
    by_ds: dict[str, list[dict]] = {}
    for m in metrics:
        by_ds.setdefault(m["dataset"], []).append(m)
    return by_ds


def _method_colours() -> dict[str, str]:
    """One fixed colour per method label (ours first, then the published rows) across every figure."""
    order = [*METHOD_LABELS.values(), *sorted({k for rows in PAPER.values() for k in rows})]
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(order)}


def plot_metrics_vs_paper(metrics: list[dict], dest: Path) -> None:
    """One panel per data set: grouped bars per metric for our methods (mean, error bar = std over seeds, dots =
    single seeds) and the paper's rows. Each method keeps one colour across panels."""
    apply_style()
    by_ds, colour = _by_dataset(metrics), _method_colours()
    n = max(1, len(by_ds))
    fig, axes = plt.subplots(1, n, figsize=(4.8 * n, 3.8), squeeze=False)
    for ax, (ds, ours) in zip(axes[0], sorted(by_ds.items())):
        names = metric_names_of(ours[0])
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
    """Per data set (columns): training loss, validation accuracy (when validation rows are held out) and learning
    rate per epoch for each method, mean over seeds with the range between the lowest and highest seed shaded.
    Paths are ``<dataset>/<method>/seed<k>/history.csv``."""
    apply_style()
    runs: dict[str, dict[str, list[pd.DataFrame]]] = {}
    for path in histories:
        method, ds = path.parent.parent.name, path.parent.parent.parent.name
        runs.setdefault(ds, {}).setdefault(method, []).append(pd.read_csv(path))
    n = max(1, len(runs))
    columns = {c for methods in runs.values() for frames in methods.values() for f in frames for c in f.columns}
    rows = [("train_total", "training loss")]
    if "val_acc" in columns:  # validation rows only with medical.val_fraction > 0
        rows.append(("val_acc", "validation accuracy (%)"))
    if "lr" in columns:
        rows.append(("lr", "learning rate"))
    fig, axes = plt.subplots(len(rows), n, figsize=(4.8 * n, 2.9 * len(rows)), squeeze=False, sharex="col")
    for col, (ds, methods) in enumerate(sorted(runs.items())):
        for row, (key, label) in enumerate(rows):
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
            if key in ("train_total", "lr"):
                ax.set_yscale("log")
            if row == 0:
                ax.set_title(f"{ds} (line: mean over seeds, band: seed range)", fontsize=10)
                ax.legend(fontsize=8)
            if row == len(rows) - 1:
                ax.set_xlabel("epoch")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    save_figure(fig, dest)


def plot_per_seed(metrics: list[dict], dest: Path) -> None:
    """One panel per data set: test accuracy of every seed (x) for each of our methods, with the paper's M3CoL and
    MOGONET accuracies as dashed horizontal lines, so the seed-to-seed spread is seen against the reproduction gap."""
    apply_style()
    by_ds, colour = _by_dataset(metrics), _method_colours()
    n = max(1, len(by_ds))
    fig, axes = plt.subplots(1, n, figsize=(4.8 * n, 3.6), squeeze=False)
    for ax, (ds, ours) in zip(axes[0], sorted(by_ds.items())):
        seeds_all: set[int] = set()
        methods = sorted(ours, key=lambda m: m["method"])
        for k, m in enumerate(methods):
            label = METHOD_LABELS[m["method"]]
            seeds, acc = m["seeds"], 100 * np.asarray(m["per_seed"]["accuracy"])
            seeds_all.update(seeds)
            offset = (k - (len(methods) - 1) / 2) * 0.12
            ax.plot(np.asarray(seeds) + offset, acc, "o", ms=7, color=colour[label],
                    label=f"{label}: mean {100 * m['accuracy']:.1f}")
        for label, values in PAPER.get(ds, {}).items():
            ax.axhline(100 * values["accuracy"], ls="--", color=colour[label], label=f"{label}: {100 * values['accuracy']:.1f}")
        ax.set_xticks(sorted(seeds_all))
        ax.set_xlabel("seed (one trained model each)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{ds}: accuracy per seed", fontsize=10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    save_figure(fig, dest)


_COLUMNS = [("ACC", ["accuracy"]), ("F1 / weighted F1", ["f1", "f1_weighted"]), ("AUC / macro F1", ["auc", "f1_macro"])]


def _cell(row: pd.Series, keys: list[str]) -> str:
    for k in keys:
        if k in row and pd.notna(row[k]):
            std = row.get(f"{k}_std")
            return f"{100 * row[k]:.1f} ± {100 * std:.1f}" if pd.notna(std) else f"{100 * row[k]:.1f}"
    return ""


def _short_source(source: str) -> str:
    if source.startswith("not run: missing files"):
        return f"not run: {source.count('(http')} files missing (see table.tsv)"
    return source.replace("this workflow, ", "ours: ").replace("selection=", "sel. ")


def plot_table(table: pd.DataFrame, dest: Path) -> None:
    """``table.tsv`` as an image: the paper's rows (grey) beside ours (blue), scores in %, mean ± std over seeds,
    and our accuracy minus the paper's M3CoL accuracy in points."""
    apply_style()
    header = ["data set", "method", *[c for c, _ in _COLUMNS], "Δ ACC vs paper M3CoL", "source"]
    cells, shades = [], []
    for _, row in table.iterrows():
        paper = PAPER.get(row["dataset"], {}).get("M3CoL (paper)")
        ours = "(ours)" in row["method"]
        delta = ""
        if ours and paper and pd.notna(row.get("accuracy")):
            delta = f"{100 * (row['accuracy'] - paper['accuracy']):+.1f}"
        cells.append([row["dataset"], row["method"], *[_cell(row, keys) for _, keys in _COLUMNS], delta,
                      _short_source(str(row["source"]))])
        shades.append("#DCEBF7" if ours else "#EFEFEF")
    fig, ax = plt.subplots(figsize=(13, 0.3 * (len(cells) + 1) + 0.4))
    ax.axis("off")
    tab = ax.table(cellText=cells or [[""] * len(header)], colLabels=header, loc="upper center", cellLoc="left",
                   colLoc="left")
    tab.auto_set_font_size(False)
    tab.set_fontsize(9)
    tab.scale(1, 1.5)
    for (r, c), cell in tab.get_celld().items():
        cell.set_edgecolor("#BBBBBB")
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#FFFFFF")
        elif cells:
            cell.set_facecolor(shades[r - 1])
    tab.auto_set_column_width(list(range(len(header))))
    ax.set_title("M3CoL Table 2 (paper, grey) beside this workflow (ours, blue): test scores in %, mean ± std over seeds",
                 fontsize=10, loc="left")
    save_figure(fig, dest)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.medical.m3col.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="*", default=[], type=Path)
    p.add_argument("--histories", nargs="*", default=[], type=Path)
    p.add_argument("--table", type=Path, help="results/medical/table.tsv (for --table-figure)")
    p.add_argument("--bars", type=Path, help="out: our metrics beside the paper's, bars")
    p.add_argument("--curves", type=Path, help="out: training loss, validation accuracy and learning rate per epoch")
    p.add_argument("--seeds", type=Path, help="out: test accuracy per seed against the paper's")
    p.add_argument("--table-figure", type=Path, help="out: the table (paper beside ours) as an image")
    args = p.parse_args(argv)
    if not any([args.bars, args.curves, args.seeds, args.table_figure]):
        p.error("name at least one output: --bars, --curves, --seeds or --table-figure")
    if args.table_figure and not args.table:
        p.error("--table-figure needs --table")
    metrics = [json.loads(m.read_text()) for m in args.metrics]
    if args.bars:
        plot_metrics_vs_paper(metrics, args.bars)
    if args.curves:
        plot_training_curves(args.histories, args.curves)
    if args.seeds:
        plot_per_seed(metrics, args.seeds)
    if args.table_figure:
        plot_table(pd.read_csv(args.table, sep="\t"), args.table_figure)


if __name__ == "__main__":
    main()
