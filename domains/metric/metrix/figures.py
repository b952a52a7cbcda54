"""Figures of the metric domain.

    python -m domains.metric.metrix.figures --metrics results/metric/esc50/metrics.json ... \
        --embeddings results/metric/esc50/seed0/embeddings.npz ... \
        --recall results/metric/figures/recall_at_k.png --projection results/metric/figures/projection.png

* ``--recall``: per data set, Recall@K bars (mean over seeds) of every method, one dot per seed.
* ``--projection``: per data set (first seed), a 2-D UMAP (scanpy, :func:`ssl_core.plotting.umap_2d`, seeded) of the
  test embeddings of the clean contrastive loss and of contrastive + Metrix/feature, one map per panel, coloured by
  test class.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ssl_core.errors import InputError, report_input_errors
from ssl_core.plotting import apply_style, plt, save_figure, umap_2d

__all__ = ["plot_recall", "plot_projection", "main"]


def plot_recall(metrics: list[dict], dest: Path) -> None:
    apply_style()
    fig, axes = plt.subplots(len(metrics), 1, figsize=(11, 3.6 * len(metrics)), squeeze=False)
    for ax, m in zip(axes[:, 0], metrics):
        names = list(m["methods"])
        ks = m["ks"]
        width = 0.8 / len(ks)
        for j, k in enumerate(ks):
            key = f"recall_at_{k}"
            xs = np.arange(len(names)) + (j - (len(ks) - 1) / 2) * width
            means = [m["methods"][n][key]["mean"] for n in names]
            ax.bar(xs, means, width, label=f"R@{k}", alpha=0.8)
            for x, n in zip(xs, names):
                vals = list(m["methods"][n][key]["per_seed"].values())
                ax.scatter([x] * len(vals), vals, s=6, color="black", zorder=3)
        ax.set_xticks(np.arange(len(names)), names, rotation=40, ha="right", fontsize=8)
        ax.set_ylabel("Recall@K (test classes)")
        ax.set_ylim(0, 1)
        ax.set_title(f"{m['dataset']}: {len(m['seeds'])} seeds, dots = seeds")
        ax.legend(ncol=len(ks), fontsize=8, loc="lower right")
    save_figure(fig, dest)


def plot_projection(paths: list[Path], dest: Path, pair: tuple[str, str] = ("contrastive",
                                                                         "contrastive + Metrix/feature")) -> None:
    apply_style()
    fig, axes = plt.subplots(len(paths), 2, figsize=(9, 4.2 * len(paths)), squeeze=False)
    for row, path in zip(axes, paths):
        with np.load(path, allow_pickle=False) as a:
            names = json.loads(str(a["methods"]))
            chosen = [n for n in pair if n in names] or names[:2]
            zs = [a[f"m{names.index(n):02d}/test"].astype(np.float64) for n in chosen]
            y = a["y_test"]
        for ax, name, z in zip(row, chosen, zs):
            part = umap_2d(z, seed=0)
            ax.scatter(part[:, 0], part[:, 1], c=y, cmap="tab20", s=5)
            ax.set_title(f"{path.parent.parent.name}: {name}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    save_figure(fig, dest)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.metric.metrix.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", required=True, nargs="+", type=Path)
    p.add_argument("--embeddings", required=True, nargs="+", type=Path, help="one embeddings.npz per data set")
    p.add_argument("--recall", required=True, type=Path)
    p.add_argument("--projection", required=True, type=Path)
    args = p.parse_args(argv)
    metrics = []
    for path in args.metrics:
        try:
            metrics.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not readable JSON ({exc})") from None
    for path in args.embeddings:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    plot_recall(metrics, args.recall)
    plot_projection(args.embeddings, args.projection)


if __name__ == "__main__":
    main()
