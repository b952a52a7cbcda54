"""Preprocessing: DNABERT-S positive pairs, species split, held-out sets, and bad input through the CLI."""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pytest

from domains.genomics.data.preprocess import contigs, preprocess
from domains.genomics.data.samples import read_sample_sheet
from tests.conftest import REPO
from tests.genomics.conftest import hparams_json, tiny_hp, write_fasta


def _run(genome_dir, hp):
    samples = read_sample_sheet(genome_dir / "samples.tsv")
    genomes = {s.genome: b"".join(line.strip() for line in gzip.open(s.path) if not line.startswith(b">"))
               if str(s.path).endswith(".gz") else
               b"".join(line.strip() for line in open(s.path, "rb") if not line.startswith(b">")) for s in samples}
    arrays, split = preprocess(samples, hp)
    return arrays, split, genomes


def test_pairs_are_non_overlapping_fragments_of_one_genome_and_batches_have_distinct_species(genome_dir):
    arrays, split, genomes = _run(genome_dir, tiny_hp())
    pairs, species = arrays["pairs"], arrays["pair_species"]
    assert pairs.shape == (4, 4, 2, 200)
    assert all(len(set(row)) == len(row) for row in species.tolist())
    train_genomes = {g["genome"] for g in split["genomes"] if g["role"] == "train"}
    for b in range(pairs.shape[0]):
        for i in range(pairs.shape[1]):
            a, c = pairs[b, i, 0].tobytes(), pairs[b, i, 1].tobytes()
            homes = [g for g, seq in genomes.items() if a in seq and c in seq]
            assert len(homes) == 1 and homes[0] in train_genomes
            seq = genomes[homes[0]]
            assert abs(seq.index(a) - seq.index(c)) >= 200  # random genomes: each 200-mer occurs once


def test_held_out_species_never_reach_training_or_tokenizer_corpus(genome_dir):
    arrays, split, genomes = _run(genome_dir, tiny_hp())
    assert len(split["eval_species"]) == 2 and not set(split["eval_species"]) & set(split["train_species"])
    eval_genomes = [g["genome"] for g in split["genomes"] if g["role"] == "eval"]
    for row in arrays["corpus"][:50]:
        assert not any(row.tobytes() in genomes[g] for g in eval_genomes)
    # held-out fragments: eval_per_species of each held-out species, non-overlapping, all from held-out genomes
    assert arrays["eval_seqs"].shape == (24, 1000)
    starts = {}
    for row, g in zip(arrays["eval_seqs"], arrays["eval_genome"]):
        assert g in eval_genomes
        starts.setdefault(g, []).append(genomes[g].index(row.tobytes()))
    for s in starts.values():
        s = sorted(s)
        assert all(b - a >= 1000 for a, b in zip(s, s[1:]))
    lengths = [len(c) for c in contigs(arrays)]
    assert len(lengths) == 8 and min(lengths) >= 500 and max(lengths) <= 1500


def test_species_aliases_merge_labels(genome_dir):
    hp = tiny_hp(species_aliases={"Species B": "Species A"}, split={"eval_include": ["Species A"]})
    _, split, _ = _run(genome_dir, hp)
    roles = {g["genome"]: (g["species"], g["role"]) for g in split["genomes"]}
    assert roles["g1"] == ("Species A", "eval") and "Species B" not in split["train_species"] + split["eval_species"]


def test_same_seed_same_fragments_and_held_out_set_independent_of_training_settings(genome_dir):
    a1, _, _ = _run(genome_dir, tiny_hp())
    a2, _, _ = _run(genome_dir, tiny_hp())
    assert np.array_equal(a1["pairs"], a2["pairs"]) and np.array_equal(a1["eval_seqs"], a2["eval_seqs"])
    a3, _, _ = _run(genome_dir, tiny_hp(train={"steps_per_epoch": 5}, fragments={"train_length": 300}))
    assert a3["pairs"].shape[0] == 10 and np.array_equal(a3["eval_seqs"], a1["eval_seqs"])
    assert np.array_equal(a3["contig_data"], a1["contig_data"])


def _cli(genome_dir, out, extra_hp=None):
    cmd = [sys.executable, "-m", "domains.genomics.data.preprocess", "--samples", str(genome_dir / "samples.tsv"),
           "--out", str(out), "--hparams", hparams_json(**(extra_hp or {}))]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)


def test_cli_writes_outputs(genome_dir, tmp_path):
    proc = _cli(genome_dir, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "fragments.npz").is_file() and (tmp_path / "out" / "split.json").is_file()


@pytest.mark.parametrize("case", ["short_genome", "non_dna", "truncated_gzip", "empty", "missing_file"])
def test_bad_input_one_line_error_nonzero_exit_no_output(genome_dir, tmp_path, case):
    if case == "short_genome":
        write_fasta(genome_dir / "g3.fa.gz", {"tiny1": "ACGT" * 300, "tiny2": "ACGT" * 200}, gz=True)
        expect = ["g3.fa.gz", "too short", "1000 bp"]
    elif case == "non_dna":
        write_fasta(genome_dir / "g2.fa.gz", {"chr2": "ACGT" * 5000, "contigX": "ACGTQACGT"}, gz=True)
        expect = ["g2.fa.gz", "record 'contigX'", "'Q'"]
    elif case == "truncated_gzip":
        data = (genome_dir / "g4.fa.gz").read_bytes()
        (genome_dir / "g4.fa.gz").write_bytes(data[: len(data) // 3])
        expect = ["g4.fa.gz", "truncated or corrupt gzip"]
    elif case == "empty":
        (genome_dir / "g6.fa").write_text("")
        expect = ["g6.fa", "no sequence records"]
    else:
        (genome_dir / "g5.fa.gz").unlink()
        expect = ["samples.tsv", "line 7", "g5.fa.gz", "not found"]
    out = tmp_path / "out"
    proc = _cli(genome_dir, out)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for e in expect:
        assert e in lines[0]
    assert not out.exists() or not any(out.iterdir())
