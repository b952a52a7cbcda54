"""Tiny synthetic genomes (random sequence, so every fragment locates uniquely) and the genomics test config."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_core.config import DEFAULT_CONFIG, deep_merge, load_config

torch.set_num_threads(1)

TINY = {
    "split": {"eval_species": 2, "seed": 0, "eval_include": []},
    "fragments": {"train_length": 200, "eval_length": 1000, "eval_per_species": 12, "contig_min": 500,
                  "contig_max": 1500, "contigs_per_species": 4, "seed": 0},
    "tokenizer": {"kind": "bpe", "vocab_size": 64, "k": 3, "canonical": False, "corpus_bp": 20000, "max_tokens": 32,
                  "window": None},
    "model": {"hidden_size": 16, "num_layers": 2, "num_heads": 2, "intermediate_size": 32, "dropout": 0.0},
    "train": {"batch_size": 4, "steps_per_epoch": 2, "phase1_epochs": 1, "phase2_epochs": 1, "warmup_steps": 1},
    "eval": {"seeds": [0], "few_shot": [1, 2, 5], "few_shot_draws": 2, "knn": 5, "embed_batch": 16},
}


def tiny_hp(**override) -> dict:
    section = load_config([DEFAULT_CONFIG])["genomics"]
    return deep_merge(deep_merge(section, TINY), override)


def random_dna(n: int, seed: int, gc: float = 0.5) -> str:
    rng = np.random.default_rng(seed)
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(rng.choice(list("ACGT"), size=n, p=p))


def write_fasta(path: Path, records: dict[str, str], gz: bool = False) -> Path:
    text = "".join(f">{name} test record\n" + "\n".join(seq[i:i + 70] for i in range(0, len(seq), 70)) + "\n"
                   for name, seq in records.items())
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def write_genomes(d: Path) -> Path:
    """Six species (seven genomes, two records for one), GC content differing by species, and a sample sheet."""
    d.mkdir(parents=True)
    rows = []
    for i in range(6):
        recs = {f"chr{i}": random_dna(30000, seed=i, gc=0.3 + 0.08 * i)}
        if i == 0:
            recs[f"plasmid{i}"] = random_dna(6000, seed=100 + i, gc=0.3)
        write_fasta(d / f"g{i}.fa.gz", recs, gz=True)
        rows.append((f"g{i}.fa.gz", f"Species {chr(65 + i)}"))
    write_fasta(d / "g6.fa", {"chr6": random_dna(25000, seed=6, gc=0.3)})
    rows.append(("g6.fa", "Species A"))
    (d / "samples.tsv").write_text("file\tspecies\n" + "".join(f"{f}\t{s}\n" for f, s in rows))
    return d


def make_tokens(genomes: Path, root: Path, **override) -> tuple[Path, dict]:
    """Preprocess and tokenize the genomes of ``genomes/samples.tsv`` with ``tiny_hp(**override)`` into
    ``root/data`` and ``root/tokens``: (the tokens directory, its stats)."""
    from domains.genomics.data.preprocess import preprocess, write_outputs
    from domains.genomics.data.samples import read_sample_sheet
    from domains.genomics.dnabert_s.tokenize import tokenize

    hp = tiny_hp(**override)
    arrays, split = preprocess(read_sample_sheet(genomes / "samples.tsv"), hp)
    write_outputs(root / "data", arrays, split)
    return root / "tokens", tokenize(arrays, hp, root / "tokens")


@pytest.fixture()
def genome_dir(tmp_path: Path) -> Path:
    return write_genomes(tmp_path / "genomes")


@pytest.fixture(scope="module")
def tiny_tokens(tmp_path_factory) -> Path:
    """Token shards of the tiny config (2 shards of 2 batches of 4 pairs), shared by a test module."""
    root = tmp_path_factory.mktemp("tiny_tokens")
    return make_tokens(write_genomes(root / "genomes"), root)[0]


def hparams_json(**override) -> str:
    return json.dumps(deep_merge(TINY, override))
