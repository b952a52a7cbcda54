"""Evaluation metrics on hand-made data where the right answer is known."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from domains.genomics.dnabert_s.evaluate import binning, evaluate, few_shot, kmeans_ari
from tests.genomics.conftest import tiny_hp


def _blobs(n_species=3, per=12, dim=8, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_species, dim)) * 3
    y = np.repeat([f"S{i}" for i in range(n_species)], per)
    x = centers[np.repeat(np.arange(n_species), per)] + spread * rng.normal(size=(n_species * per, dim))
    return x, y


def test_kmeans_ari_perfect_on_separated_blobs_and_low_on_noise():
    x, y = _blobs()
    assert min(kmeans_ari(x, y, [0, 1])) > 0.99
    noise = np.random.default_rng(1).normal(size=x.shape)
    assert np.mean(kmeans_ari(noise, y, [0, 1])) < 0.3


def test_few_shot_separable_vs_noise():
    x, y = _blobs()
    assert few_shot(x, y, [1, 5], draws=3) == {"1": 1.0, "5": 1.0}
    noise = np.random.default_rng(2).normal(size=x.shape)
    assert few_shot(noise, y, [5], draws=3)["5"] < 0.8


def test_binning_counts_pure_and_complete_bins_by_bp():
    species = np.array(["A", "A", "A", "B", "B", "C", "C"])
    lengths = np.array([1000, 1000, 8000, 5000, 5000, 3000, 1000])
    # bin 0: all of A; bin 1: B plus a small C contig (purity 5000*2/(10000+1000) = 0.91); bin 2: rest of C (0.75)
    labels = np.array([0, 0, 0, 1, 1, 2, 1])
    got = binning(labels, species, lengths, precision=0.95, recall=0.9)
    assert got["count"] == 1 and got["species"] == ["A"] and got["n_bins"] == 3
    assert binning(labels, species, lengths, precision=0.9, recall=0.9)["count"] == 2
    # splitting A in two halves its completeness
    assert binning(np.array([0, 3, 3, 1, 1, 2, 2]), species, lengths, 0.95, 0.9)["species"] == ["A", "B", "C"]
    assert binning(np.array([0, 3, 4, 1, 1, 2, 2]), species, lengths, 0.95, 0.9)["species"] == ["B", "C"]


def test_evaluate_reports_every_metric_for_every_method():
    x, y = _blobs(n_species=3, per=12)
    obs = pd.DataFrame({"species": y, "genome": y, "length": 1000}, index=[f"s{i}" for i in range(len(y))])
    frag = ad.AnnData(X=x.astype(np.float32), obs=obs)
    noise = np.random.default_rng(3).normal(size=x.shape)
    frag.obsm["X_trained"], frag.obsm["X_random_init"], frag.obsm["X_tnf"] = x, noise, x + 0.5 * noise
    cont = frag.copy()
    m = evaluate(frag, cont, tiny_hp())
    assert set(m["methods"]) == {"trained", "random_init", "tnf"}
    for key in ("ari_kmeans", "ari_leiden", "few_shot", "binning_count"):
        assert key in m and key in m["tnf"] and key in m["random_init"]
    assert m["ari_kmeans"] > 0.99 and m["random_init"]["ari_kmeans"] < m["ari_kmeans"]
    assert m["binning_count"] == 3 and m["few_shot_shots"] == [1, 2, 5]
