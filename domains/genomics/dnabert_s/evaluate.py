"""Evaluate embeddings of held-out species: species clustering, few-shot classification, metagenomic binning.

    python -m domains.genomics.dnabert_s.evaluate --embeddings results/genomics/embeddings.h5ad \
        --contigs results/genomics/contigs.h5ad --train-run results/genomics/train/run.json \
        --metrics results/genomics/metrics.json --table results/genomics/table.tsv [--config ...] [--hparams ...]

Every metric is computed for each representation in ``obsm``: the trained encoder (``trained``), the same
encoder before contrastive training (``random_init``) and canonical 136-d TNF (``tnf``). Encoder embeddings are
L2-normalised (cosine geometry, as DNABERT-S); TNF is z-scored per feature.

* Clustering: K-means with K = number of held-out species (10 restarts) and Leiden (scanpy, igraph flavour) on a
  kNN graph (``eval.knn`` neighbours, ``eval.leiden_resolution``); adjusted Rand index against the species,
  mean over ``eval.seeds``.
* Few-shot: for each n in ``eval.few_shot``, n fragments per species train a logistic regression (features
  z-scored over all fragments, label-free, so one regularisation strength suits every representation), the rest
  are the test set; accuracy averaged over ``eval.few_shot_draws`` draws.
* Binning: the contigs (mixed species, lengths in [contig_min, contig_max]) are clustered by Leiden on their kNN
  graph without being told the number of species. A bin is *high quality* when its majority species holds at
  least ``eval.binning_precision`` of the bin's bp (purity) and the bin holds at least ``eval.binning_recall`` of
  that species' contig bp (completeness). ``binning_count`` is the number of such bins (at most one per
  species), mean over seeds; the ARI of the contig clustering is reported too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from domains.genomics.settings import STAGE_PARTS
from ssl_core.config import resolve_section
from ssl_core.atomic import atomic_path, write_json
from ssl_core.errors import InputError, report_input_errors

__all__ = ["features", "kmeans_ari", "leiden_labels", "few_shot", "binning", "evaluate", "main"]

METHOD_ORDER = ["trained", "random_init", "tnf"]
METHOD_LABELS = {"trained": "DNABERT-S-style (C2LR, ours)", "random_init": "same encoder, random init",
                 "tnf": "TNF (canonical 136-d)"}


def features(a: ad.AnnData, method: str) -> np.ndarray:
    x = np.asarray(a.obsm[f"X_{method}"], dtype=np.float64)
    if method != "tnf":
        x = x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)
    return x


def kmeans_ari(x: np.ndarray, y: np.ndarray, seeds: list[int]) -> list[float]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    k = len(np.unique(y))
    return [float(adjusted_rand_score(y, KMeans(k, n_init=10, random_state=s).fit_predict(x))) for s in seeds]


def leiden_labels(x: np.ndarray, knn: int, resolution: float, seed: int) -> np.ndarray:
    import scanpy as sc

    a = ad.AnnData(X=np.zeros((x.shape[0], 1), dtype=np.float32))
    a.obsm["X_rep"] = x.astype(np.float32)
    sc.pp.neighbors(a, n_neighbors=min(knn, x.shape[0] - 1), use_rep="X_rep", random_state=seed)
    sc.tl.leiden(a, resolution=resolution, flavor="igraph", n_iterations=2, directed=False, random_state=seed)
    return a.obs["leiden"].to_numpy()


def few_shot(x: np.ndarray, y: np.ndarray, shots: list[int], draws: int, seed: int = 0) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(y)
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)  # label-free z-scoring over the set: LR's C means the same
    out = {}
    for n in shots:
        accs = []
        for d in range(draws):
            rng = np.random.default_rng(seed * 1000 + d)
            train = np.concatenate([rng.choice(np.flatnonzero(y == c), size=n, replace=False) for c in classes])
            test = np.setdiff1d(np.arange(len(y)), train)
            clf = LogisticRegression(max_iter=2000).fit(x[train], y[train])
            accs.append(float((clf.predict(x[test]) == y[test]).mean()))
        out[str(n)] = float(np.mean(accs))
    return out


def binning(labels: np.ndarray, species: np.ndarray, lengths: np.ndarray, precision: float, recall: float) -> dict[str, Any]:
    """High-quality bins of one clustering (see the module docstring)."""
    total = pd.Series(lengths).groupby(species).sum()
    good = set()
    for b in np.unique(labels):
        m = labels == b
        bp = pd.Series(lengths[m]).groupby(species[m]).sum()
        major = bp.idxmax()
        if bp[major] / bp.sum() >= precision and bp[major] / total[major] >= recall:
            good.add(major)
    return {"count": len(good), "species": sorted(good), "n_bins": int(len(np.unique(labels)))}


def evaluate(frag: ad.AnnData, cont: ad.AnnData, hp: dict[str, Any]) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score

    ev = hp["eval"]
    y = frag.obs["species"].astype(str).to_numpy()
    yc = cont.obs["species"].astype(str).to_numpy()
    lengths = cont.obs["length"].to_numpy()
    counts = pd.Series(y).value_counts()
    shots = [n for n in ev["few_shot"] if n < counts.min()]
    if not shots:
        raise InputError(f"too few fragments per species ({counts.min()}) for few-shot with {ev['few_shot']} shots")
    methods = [m for m in METHOD_ORDER if f"X_{m}" in frag.obsm]
    res: dict[str, Any] = {}
    for m in methods:
        x, xc = features(frag, m), features(cont, m)
        km = kmeans_ari(x, y, ev["seeds"])
        ld = [float(adjusted_rand_score(y, leiden_labels(x, ev["knn"], ev["leiden_resolution"], s))) for s in ev["seeds"]]
        bins = [binning(leiden_labels(xc, ev["knn"], ev["leiden_resolution"], s), yc, lengths,
                        ev["binning_precision"], ev["binning_recall"]) for s in ev["seeds"]]
        bin_ari = [float(adjusted_rand_score(yc, leiden_labels(xc, ev["knn"], ev["leiden_resolution"], s))) for s in ev["seeds"]]
        res[m] = {
            "ari_kmeans": float(np.mean(km)), "ari_kmeans_std": float(np.std(km)), "ari_kmeans_per_seed": km,
            "ari_leiden": float(np.mean(ld)), "ari_leiden_std": float(np.std(ld)), "ari_leiden_per_seed": ld,
            "few_shot": few_shot(x, y, shots, ev["few_shot_draws"]),
            "binning_count": float(np.mean([b["count"] for b in bins])),
            "binning_count_per_seed": [b["count"] for b in bins], "binning_species_seed0": bins[0]["species"],
            "binning_n_bins": float(np.mean([b["n_bins"] for b in bins])), "binning_ari": float(np.mean(bin_ari)),
        }
    metrics = {
        "n_species": int(len(counts)), "species": sorted(counts.index.tolist()), "n_fragments": int(frag.n_obs),
        "fragment_length": int(frag.obs["length"].iloc[0]), "n_contigs": int(cont.n_obs), "few_shot_shots": shots,
        "binning_criterion": {"precision": ev["binning_precision"], "recall": ev["binning_recall"]},
        **{k: res["trained"][k] for k in ("ari_kmeans", "ari_leiden", "few_shot", "binning_count")},
        "methods": res,
    }
    for m in methods:
        if m != "trained":
            metrics[m] = {k: res[m][k] for k in ("ari_kmeans", "ari_leiden", "few_shot", "binning_count")}
    return metrics


def table(metrics: dict[str, Any], train_run: dict[str, Any] | None) -> pd.DataFrame:
    rows = []
    for m, r in metrics["methods"].items():
        row = {"method": METHOD_LABELS.get(m, m), "key": m, "ari_kmeans": r["ari_kmeans"], "ari_kmeans_std": r["ari_kmeans_std"],
               "ari_leiden": r["ari_leiden"]}
        row.update({f"few_shot_{n}": v for n, v in r["few_shot"].items()})
        row.update({"binning_count": r["binning_count"], "binning_ari": r["binning_ari"],
                    "n_species": metrics["n_species"], "n_fragments": metrics["n_fragments"]})
        row["train_seconds"] = train_run["fit_seconds"] if (train_run and m == "trained") else None
        rows.append(row)
    return pd.DataFrame(rows)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.dnabert_s.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--embeddings", required=True, type=Path)
    p.add_argument("--contigs", required=True, type=Path)
    p.add_argument("--train-run", type=Path, default=None)
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--table", required=True, type=Path)
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None)
    args = p.parse_args(argv)
    for f in (args.embeddings, args.contigs):
        if not f.is_file():
            raise InputError(f"{f}: file not found (run the embed stage first)")
    hp = resolve_section(("genomics",), args.config, args.hparams, parts=STAGE_PARTS["evaluate"])
    metrics = evaluate(ad.read_h5ad(args.embeddings), ad.read_h5ad(args.contigs), hp)
    run = json.loads(args.train_run.read_text()) if args.train_run else None
    if run:
        metrics["train"] = run
    with atomic_path(args.table) as tmp:
        table(metrics, run).to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    write_json(args.metrics, metrics)
    print(json.dumps({k: metrics[k] for k in ("ari_kmeans", "ari_leiden", "few_shot", "binning_count")}))
    for m in ("random_init", "tnf"):
        if m in metrics:
            print(m, json.dumps(metrics[m]))


if __name__ == "__main__":
    main()
