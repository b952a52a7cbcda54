"""Read the genomes of a sample sheet, split species into training and held-out evaluation species, and sample
the DNA fragments every later stage uses.

    python -m domains.genomics.data.preprocess --samples resources/genomics/genomes/samples.tsv \
        --out results/genomics/data [--config config/config.yaml] [--hparams '{"split": {"eval_species": 10}}']

Species labels come from the sample sheet, after ``species_aliases`` (default: Shigella dysenteriae and
S. flexneri -> Escherichia coli: the manifest's note column and GTDB place them in one genomospecies, ANI ~97%
to E. coli, so treating them as separate species would punish an embedding for being right). Held-out species
(``split.eval_species`` of them, chosen with ``split.seed``; ``split.eval_include`` forces some in) are never seen
by the tokenizer or the encoder: evaluation measures generalisation to unseen species, as in DNABERT-S.

Sampling (seeded, ``fragments.seed``):
* training pairs as DNABERT-S does: two non-overlapping fragments of ``fragments.train_length`` bp from the same
  genome are a positive pair; pairs are grouped into batches whose pairs all come from distinct species, so that
  in-batch negatives are never the same species;
* held-out fragments: ``fragments.eval_per_species`` non-overlapping fragments of ``fragments.eval_length`` bp per
  held-out species (spread over its genomes) for clustering and few-shot classification;
* contigs for binning: ``fragments.contigs_per_species`` non-overlapping pieces per held-out species with lengths
  uniform in [``contig_min``, ``contig_max``] bp;
* a tokenizer corpus of ``tokenizer.corpus_bp`` bp from the training genomes only.
Windows with anything but A, C, G, T are skipped, and no window crosses a record boundary.

Outputs (atomic): ``fragments.npz`` and ``split.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.config import resolve_section
from domains.genomics.data.samples import Sample, read_sample_sheet
from domains.genomics.data.seqio import read_genome
from domains.genomics.settings import STAGE_PARTS
from ssl_core.atomic import atomic_path, write_json
from ssl_core.errors import InputError, report_input_errors

__all__ = ["Genome", "load_genomes", "split_species", "sample_pairs", "tile", "preprocess", "main"]

_NOT_ACGT = b"ACGT"


class Genome:
    """A genome's records (upper-case bytes) and its species."""

    def __init__(self, sample: Sample, species: str) -> None:
        self.id = sample.genome
        self.path = sample.path
        self.species = species
        self.records = [r.seq for r in read_genome(sample.path)]
        self.lengths = np.array([len(s) for s in self.records], dtype=np.int64)

    def slots(self, length: int) -> int:
        return int((self.lengths // length).sum())

    def require(self, length: int) -> None:
        if self.slots(length) < 2:
            raise InputError(
                f"{self.path}: genome {self.id} is too short: {int(self.lengths.sum())} bp in {len(self.records)} "
                f"record(s) (longest {int(self.lengths.max())} bp) do not hold two non-overlapping {length} bp fragments"
            )

    def window(self, rng: np.random.Generator, length: int, tries: int = 200) -> tuple[int, int]:
        """(record, start) of a random ACGT-only window of ``length`` bp."""
        valid = np.maximum(self.lengths - length + 1, 0)
        cum = np.cumsum(valid)
        for _ in range(tries):
            x = int(rng.integers(cum[-1]))
            r = int(np.searchsorted(cum, x, side="right"))
            start = x - (int(cum[r - 1]) if r else 0)
            if not self.records[r][start:start + length].translate(None, _NOT_ACGT):
                return r, start
        raise InputError(f"{self.path}: genome {self.id}: no {length} bp window without ambiguous bases found")


def load_genomes(samples: list[Sample], aliases: dict[str, str]) -> list[Genome]:
    return [Genome(s, aliases.get(s.species, s.species)) for s in samples]


def split_species(species: list[str], n_eval: int, seed: int, include: list[str]) -> tuple[list[str], list[str]]:
    """(training species, held-out species), both sorted; ``include`` always held out."""
    species = sorted(set(species))
    unknown = sorted(set(include) - set(species))
    if unknown:
        raise InputError(f"config: genomics.split.eval_include: species not in the sample sheet: {', '.join(unknown)}")
    if not 2 <= n_eval <= len(species) - 2:
        raise InputError(f"config: genomics.split.eval_species: {n_eval} held-out species of {len(species)}; "
                         "need at least 2 held out and 2 for training")
    rest = [s for s in species if s not in include]
    rng = np.random.default_rng(seed)
    extra = list(rng.choice(rest, size=max(0, n_eval - len(include)), replace=False)) if n_eval > len(include) else []
    held = sorted(set(include) | {str(s) for s in extra})
    return [s for s in species if s not in held], held


def sample_pairs(genomes: list[Genome], species: list[str], n_batches: int, batch: int, length: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_batches`` batches of ``batch`` positive pairs (two non-overlapping windows of one genome), the pairs of a
    batch from distinct species. Returns (uint8 ASCII array (n_batches, batch, 2, length), species index array)."""
    by_species = {s: [g for g in genomes if g.species == s] for s in species}
    out = np.empty((n_batches, batch, 2, length), dtype=np.uint8)
    labels = np.empty((n_batches, batch), dtype=np.int64)
    for b in range(n_batches):
        chosen = rng.choice(len(species), size=batch, replace=False)
        labels[b] = chosen
        for i, s in enumerate(chosen):
            pool = by_species[species[s]]
            g = pool[int(rng.integers(len(pool)))]
            for _ in range(200):
                (r1, s1), (r2, s2) = g.window(rng, length), g.window(rng, length)
                if r1 != r2 or abs(s1 - s2) >= length:
                    break
            else:
                raise InputError(f"{g.path}: genome {g.id}: no two non-overlapping {length} bp windows found")
            out[b, i, 0] = np.frombuffer(g.records[r1][s1:s1 + length], dtype=np.uint8)
            out[b, i, 1] = np.frombuffer(g.records[r2][s2:s2 + length], dtype=np.uint8)
    return out, labels


def tile(genome: Genome, rng: np.random.Generator, lo: int, hi: int) -> list[bytes]:
    """Non-overlapping ACGT-only pieces covering the genome's records, lengths uniform in [lo, hi], random phase."""
    pieces = []
    for seq in genome.records:
        pos = int(rng.integers(0, lo)) if len(seq) > 2 * lo else 0
        while True:
            n = int(rng.integers(lo, hi + 1))
            if pos + n > len(seq):
                break
            piece = seq[pos:pos + n]
            if not piece.translate(None, _NOT_ACGT):
                pieces.append(piece)
            pos += n
    return pieces


def _pick(genomes: list[Genome], k: int, rng: np.random.Generator, lo: int, hi: int) -> list[tuple[bytes, str]]:
    """``k`` pieces spread evenly over the species' genomes (round robin), each genome's pieces non-overlapping."""
    pools = []
    for g in genomes:
        pieces = tile(g, rng, lo, hi)
        order = rng.permutation(len(pieces))
        pools.append([(pieces[i], g.id) for i in order])
    out: list[tuple[bytes, str]] = []
    idx = [0] * len(pools)
    while len(out) < k and any(idx[j] < len(p) for j, p in enumerate(pools)):
        for j, p in enumerate(pools):
            if idx[j] < len(p) and len(out) < k:
                out.append(p[idx[j]])
                idx[j] += 1
    return out


def preprocess(samples: list[Sample], hp: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays for ``fragments.npz`` and the record for ``split.json``."""
    t0 = time.perf_counter()
    fr, sp, tr, tok = hp["fragments"], hp["split"], hp["train"], hp["tokenizer"]
    genomes = load_genomes(samples, hp["species_aliases"])
    read_s = time.perf_counter() - t0
    for g in genomes:
        g.require(max(fr["train_length"], fr["eval_length"]))
    train_sp, eval_sp = split_species([g.species for g in genomes], sp["eval_species"], sp["seed"], sp["eval_include"])
    # Independent streams: the held-out fragments and contigs do not change when training settings do.
    rng, eval_rng, corpus_rng = (np.random.default_rng([fr["seed"], k]) for k in range(3))
    batch = min(tr["batch_size"], len(train_sp))
    n_batches = (tr["phase1_epochs"] + tr["phase2_epochs"]) * tr["steps_per_epoch"]
    train_g = [g for g in genomes if g.species in train_sp]
    pairs, pair_species = sample_pairs(train_g, train_sp, n_batches, batch, fr["train_length"], rng)

    eval_rows, contig_rows = [], []
    for s_idx, s in enumerate(eval_sp):
        gs = [g for g in genomes if g.species == s]
        L = fr["eval_length"]
        for seq, gid in _pick(gs, fr["eval_per_species"], eval_rng, L, L):
            eval_rows.append((seq, s_idx, gid))
        for seq, gid in _pick(gs, fr["contigs_per_species"], eval_rng, fr["contig_min"], fr["contig_max"]):
            contig_rows.append((seq, s_idx, gid))
    contig_lengths = np.array([len(r[0]) for r in contig_rows], dtype=np.int64)

    chunk = 1000
    n_chunks = max(1, tok["corpus_bp"] // chunk)
    corpus = np.empty((n_chunks, chunk), dtype=np.uint8)
    for i in range(n_chunks):
        g = train_g[i % len(train_g)]
        r, s = g.window(corpus_rng, chunk)
        corpus[i] = np.frombuffer(g.records[r][s:s + chunk], dtype=np.uint8)

    arrays = {
        "pairs": pairs, "pair_species": pair_species,
        "eval_seqs": np.stack([np.frombuffer(r[0], dtype=np.uint8) for r in eval_rows]),
        "eval_species": np.array([r[1] for r in eval_rows]), "eval_genome": np.array([r[2] for r in eval_rows]),
        "contig_data": np.frombuffer(b"".join(r[0] for r in contig_rows), dtype=np.uint8),
        "contig_offsets": np.concatenate([[0], np.cumsum(contig_lengths)]),
        "contig_species": np.array([r[1] for r in contig_rows]), "contig_genome": np.array([r[2] for r in contig_rows]),
        "corpus": corpus, "train_species": np.array(train_sp), "eval_species_names": np.array(eval_sp),
    }
    total_bp = int(sum(int(g.lengths.sum()) for g in genomes))
    split = {
        "train_species": train_sp, "eval_species": eval_sp,
        "species_aliases": hp["species_aliases"],
        "genomes": [{"genome": g.id, "file": str(g.path), "species": g.species, "bp": int(g.lengths.sum()),
                     "records": len(g.records), "role": "train" if g.species in train_sp else "eval"} for g in genomes],
        "n_train_batches": n_batches, "batch_size": batch, "n_eval_fragments": len(eval_rows),
        "n_contigs": len(contig_rows), "total_bp": total_bp, "read_seconds": read_s,
        "seconds": time.perf_counter() - t0,
    }
    return arrays, split


def write_outputs(out: Path, arrays: dict[str, np.ndarray], split: dict[str, Any]) -> None:
    with atomic_path(out / "fragments.npz") as tmp:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        tmp.write_bytes(buf.getvalue())
    write_json(out / "split.json", split)


def load_fragments(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def contigs(arrays: dict[str, np.ndarray]) -> list[bytes]:
    data, off = arrays["contig_data"], arrays["contig_offsets"]
    return [data[off[i]:off[i + 1]].tobytes() for i in range(len(off) - 1)]


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.data.preprocess", description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", required=True, type=Path, help="sample sheet (TSV: file, species[, genome])")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--config", action="append", type=Path, help="config YAML (repeatable; default config/config.yaml)")
    p.add_argument("--hparams", default=None, help="JSON object merged over the genomics config section")
    args = p.parse_args(argv)
    hp = resolve_section(("genomics",), args.config, args.hparams, parts=STAGE_PARTS["preprocess"])
    samples = read_sample_sheet(args.samples)
    arrays, split = preprocess(samples, hp)
    write_outputs(args.out, arrays, split)
    print(json.dumps({k: split[k] for k in ("n_train_batches", "batch_size", "n_eval_fragments", "n_contigs")}))


if __name__ == "__main__":
    main()
