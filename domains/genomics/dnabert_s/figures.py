"""Figures of the genomics pipeline (ssl_core.plotting style): UMAP of held-out embeddings coloured by species,
ARI per method (K-means and Leiden), few-shot accuracy against shots per method.

    python -m domains.genomics.dnabert_s.figures --embeddings results/genomics/embeddings.h5ad \
        --metrics results/genomics/metrics.json --umap umap.png --ari ari.png --few-shot few_shot.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np

from domains.genomics.dnabert_s.evaluate import METHOD_LABELS, features
from ssl_core.errors import InputError, report_input_errors
from ssl_core.plotting import PALETTE, apply_style, save_figure, umap_2d


def plot_umap(frag: ad.AnnData, dest: Path, seed: int = 0) -> None:
    """One panel per representation: UMAP (scanpy) of the held-out fragments, coloured by species."""
    apply_style()
    methods = [m for m in METHOD_LABELS if f"X_{m}" in frag.obsm]
    species = frag.obs["species"].astype(str).to_numpy()
    names = sorted(set(species))
    cmap = plt.get_cmap("tab20", max(len(names), 2))
    fig, axes = plt.subplots(1, len(methods), figsize=(4.4 * len(methods), 4.4), squeeze=False)
    for ax, m in zip(axes[0], methods):
        xy = umap_2d(features(frag, m), seed)
        for k, s in enumerate(names):
            sel = species == s
            ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=cmap(k), label=s)
        ax.set_title(METHOD_LABELS[m])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=7, markerscale=2,
               bbox_to_anchor=(0.5, -0.02 - 0.035 * ((len(labels) + 3) // 4)))
    save_figure(fig, dest)


def plot_ari(metrics: dict, dest: Path) -> None:
    apply_style()
    methods = list(metrics["methods"])
    x = np.arange(2)
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(5.8, 3.6))
    for k, m in enumerate(methods):
        r = metrics["methods"][m]
        pos = x + (k - (len(methods) - 1) / 2) * width
        ax.bar(pos, [r["ari_kmeans"], r["ari_leiden"]], width, yerr=[r["ari_kmeans_std"], r["ari_leiden_std"]],
               capsize=3, color=PALETTE[k], label=METHOD_LABELS.get(m, m))
    ax.set_xticks(x, ["K-means (K = #species)", "Leiden (kNN graph)"])
    ax.set_ylabel("ARI vs species")
    ax.set_ylim(0, 1)
    ax.set_title(f"Held-out species: {metrics['n_species']} species, {metrics['n_fragments']} fragments "
                 f"of {metrics['fragment_length']} bp")
    ax.legend(fontsize=8)
    save_figure(fig, dest)


def plot_few_shot(metrics: dict, dest: Path) -> None:
    apply_style()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for k, (m, r) in enumerate(metrics["methods"].items()):
        shots = [int(n) for n in r["few_shot"]]
        ax.plot(shots, list(r["few_shot"].values()), marker="o", color=PALETTE[k], label=METHOD_LABELS.get(m, m))
    ax.set_xscale("log")
    ax.set_xticks(metrics["few_shot_shots"], [str(n) for n in metrics["few_shot_shots"]])
    ax.set_xlabel("labelled fragments per species (shots)")
    ax.set_ylabel("accuracy (logistic regression)")
    ax.set_ylim(0, 1)
    ax.set_title("Few-shot species classification, held-out species")
    ax.legend(fontsize=8)
    save_figure(fig, dest)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.dnabert_s.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--embeddings", required=True, type=Path)
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--umap", required=True, type=Path)
    p.add_argument("--ari", required=True, type=Path)
    p.add_argument("--few-shot", required=True, type=Path)
    args = p.parse_args(argv)
    for f in (args.embeddings, args.metrics):
        if not f.is_file():
            raise InputError(f"{f}: file not found")
    metrics = json.loads(args.metrics.read_text())
    plot_umap(ad.read_h5ad(args.embeddings), args.umap)
    plot_ari(metrics, args.ari)
    plot_few_shot(metrics, args.few_shot)


if __name__ == "__main__":
    main()
