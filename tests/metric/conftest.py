"""Tiny synthetic inputs of the metric domain (the audio domain's log-mels, the genomics domain's fragments) and
the tiny config of its tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ssl_core.config import DEFAULT_CONFIG, deep_merge, load_config

torch.set_num_threads(1)

TINY = {
    "seeds": [0],
    "losses": ["contrastive", "multi_similarity", "proxy_anchor"],
    "mixing": ["input", "feature", "embed"],
    "compare": ["imix", "mochi"],
    "data": {"esc50": {"train_classes": 3, "time_pool": 2}, "species": {"kmer": 3, "per_species": 6}},
    "model": {"embedding_dim": 8, "channels": [4, 8], "hidden": [16]},
    "train": {"steps": 4, "steps_per_epoch": 2, "classes_per_batch": 2, "per_class": 2, "mixed_references": 20,
              "embed_batch": 16},
    "mochi": {"n_hard": 2, "n_mix": 2, "n_query_mix": 2},
    "tune": {"val_classes": 2, "seeds": [0], "lr": [0.001, 0.01], "alpha": [2.0], "weight": [0.4]},
}


def tiny_hp(dataset: str | None = None, **override) -> dict:
    section = load_config([DEFAULT_CONFIG])["metric"]
    section = deep_merge(deep_merge(section, TINY), override)
    if dataset is not None:
        section = deep_merge(section, section.pop("dataset_overrides").get(dataset, {}))
    return section


def write_esc50(path: Path, classes: int = 6, per_class: int = 4, labels: np.ndarray | None = None) -> Path:
    """An ESC-50-like features file: class c's clips are a class-specific pattern plus noise, [N, 8, 12]."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(classes), per_class) if labels is None else np.asarray(labels)
    patterns = rng.normal(size=(max(classes, int(y.max()) + 1), 8, 12))
    mels = (patterns[y] + 0.3 * rng.normal(size=(len(y), 8, 12))).astype(np.float16)
    names = np.array([f"class{c}" for c in range(patterns.shape[0])])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, mels=mels, labels=y.astype(np.int64), classes=names, fold=np.ones(len(y), np.int64))
    return path


def _dna(rng: np.random.Generator, n: int, length: int, gc: float) -> np.ndarray:
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return np.frombuffer(b"ACGT", np.uint8)[rng.choice(4, size=(n, length), p=p)]


def write_fragments(path: Path, train_species: int = 4, eval_species: int = 3, eval_per: int = 4) -> Path:
    """A genomics fragments.npz: training pairs (batches of distinct species) and held-out fragments, species
    differing in GC content."""
    rng = np.random.default_rng(1)
    batches = 4
    pair_species = np.stack([rng.permutation(train_species) for _ in range(batches)])
    gc = {s: 0.3 + 0.05 * s for s in range(train_species + eval_species)}
    pairs = np.stack([np.stack([np.stack([_dna(rng, 1, 120, gc[s])[0] for _ in range(2)]) for s in row])
                      for row in pair_species])
    eval_y = np.repeat(np.arange(eval_species), eval_per)
    eval_seqs = np.stack([_dna(rng, 1, 300, gc[train_species + s])[0] for s in eval_y])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, pairs=pairs, pair_species=pair_species, eval_seqs=eval_seqs, eval_species=eval_y,
                 train_species=np.array([f"train sp {i}" for i in range(train_species)]),
                 eval_species_names=np.array([f"held-out sp {i}" for i in range(eval_species)]))
    return path
