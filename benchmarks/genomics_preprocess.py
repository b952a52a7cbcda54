"""Preprocessing throughput on the real genomes: plain gzip decompression vs our reader vs Biopython, and the
whole preprocess stage (read, validate, sample fragments) in fragments/s and MB/s.

    python benchmarks/genomics_preprocess.py [--genomes ../shared/data/genomics/genomes] [--repeat 2]

MB are 10^6 bytes of decompressed FASTA text. CPU seconds (process time) are reported beside wall seconds,
because the machine is shared: the ratio of CPU-time rates is the fair comparison.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from Bio.SeqIO.FastaIO import SimpleFastaParser  # noqa: E402

from domains.genomics.data.preprocess import preprocess  # noqa: E402
from domains.genomics.data.samples import Sample  # noqa: E402
from domains.genomics.data.seqio import read_genome  # noqa: E402
from ssl_core.config import resolve_section  # noqa: E402


def _timed(fn, repeat):
    best = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        t = (time.perf_counter() - w, time.process_time() - c)
        best = t if best is None or t[1] < best[1] else best
    return out, best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--genomes", type=Path, default=REPO.parent / "shared" / "data" / "genomics" / "genomes")
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    files = sorted(args.genomes.glob("*.fa.gz"))
    if not files:
        sys.exit(f"no *.fa.gz in {args.genomes}")
    text_bytes = sum(len(gzip.decompress(f.read_bytes())) for f in files)

    def plain():
        return sum(len(gzip.decompress(f.read_bytes())) for f in files)

    def ours():
        return sum(len(r.seq) for f in files for r in read_genome(f))

    def biopython():
        n = 0
        for f in files:
            with gzip.open(f, "rt") as fh:
                n += sum(len(s) for _, s in SimpleFastaParser(fh))
        return n

    rows = []
    for name, fn in [("gzip.decompress only", plain), ("read_genome (ours: parse + DNA check)", ours),
                     ("Bio SimpleFastaParser on gzip", biopython)]:
        _, (wall, cpu) = _timed(fn, args.repeat)
        rows.append((name, text_bytes / 1e6 / wall, text_bytes / 1e6 / cpu, wall, cpu))

    hp = resolve_section(("genomics",), None, None)
    rows_sheet = []
    import csv

    manifest = args.genomes.parent / "MANIFEST.tsv"
    species = {r["file"].split("/")[-1]: r["species"] for r in csv.DictReader(open(manifest), delimiter="\t")}
    samples = [Sample(f.name.split(".fa")[0], f, species[f.name]) for f in files]
    (arrays, split), (wall, cpu) = _timed(lambda: preprocess(samples, hp), 1)
    n_frag = arrays["pairs"].shape[0] * arrays["pairs"].shape[1] * 2 + len(arrays["eval_seqs"]) + len(arrays["contig_offsets"]) - 1
    rows_sheet.append(("preprocess stage (read + sample)", text_bytes / 1e6 / wall, text_bytes / 1e6 / cpu, wall, cpu))

    print(f"{len(files)} genomes, {text_bytes / 1e6:.1f} MB of FASTA text (decompressed)\n")
    print(f"{'reader':42s} {'MB/s wall':>10s} {'MB/s CPU':>10s} {'wall s':>8s} {'CPU s':>8s} {'vs gzip (CPU)':>14s}")
    base = rows[0][2]
    for name, mbw, mbc, w, c in rows + rows_sheet:
        print(f"{name:42s} {mbw:10.1f} {mbc:10.1f} {w:8.2f} {c:8.2f} {mbc / base:14.2f}")
    print(f"\nfragments sampled: {n_frag} ({arrays['pairs'].shape[0]} batches x {arrays['pairs'].shape[1]} pairs x 2 "
          f"+ {len(arrays['eval_seqs'])} held-out + {len(arrays['contig_offsets']) - 1} contigs) "
          f"-> {n_frag / wall:.0f} fragments/s wall, {n_frag / cpu:.0f} fragments/s CPU")


if __name__ == "__main__":
    main()
