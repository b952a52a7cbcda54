"""Embed the held-out fragments and binning contigs with the trained encoder, the same encoder before contrastive
training (random init) and canonical TNF; store them in AnnData.

    python -m domains.genomics.dnabert_s.embed --fragments results/genomics/data/fragments.npz \
        --tokens results/genomics/tokens --train results/genomics/train \
        --out results/genomics/embeddings.h5ad --contigs-out results/genomics/contigs.h5ad [--threads 1]

``embeddings.h5ad``: one row per held-out fragment; ``X`` = trained embedding; ``obsm``: ``X_trained``,
``X_random_init``, ``X_tnf`` (136-d canonical TNF, z-scored); ``obs``: ``species``, ``genome``, ``length``.
``contigs.h5ad``: the same for the binning contigs of mixed lengths.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ssl_core.config import resolve_section
from domains.genomics.dnabert_s.model import embed_sequences, load_encoder
from domains.genomics.data.preprocess import contigs, load_fragments
from domains.genomics.dnabert_s.tnf import tnf_features
from domains.genomics.settings import STAGE_PARTS
from ssl_core.atomic import atomic_path
from ssl_core.errors import InputError, report_input_errors
from ssl_core.runtime import set_threads

METHODS = {"trained": "encoder.pt", "random_init": "encoder_init.pt"}


def _split(ids: np.ndarray, off: np.ndarray) -> list[np.ndarray]:
    return [ids[off[i]:off[i + 1]] for i in range(len(off) - 1)]


def _adata(embs: dict[str, np.ndarray], species: list[str], genomes: np.ndarray, lengths: list[int]) -> ad.AnnData:
    obs = pd.DataFrame({"species": pd.Categorical(species), "genome": genomes.astype(str), "length": lengths},
                       index=[f"seq{i}" for i in range(len(species))])
    a = ad.AnnData(X=embs["trained"].astype(np.float32), obs=obs)
    for k, v in embs.items():
        a.obsm[f"X_{k}"] = v.astype(np.float32)
    return a


def embed(fragments: Path, tokens: Path, train_dir: Path, hp: dict, threads: int | None) -> tuple[ad.AnnData, ad.AnnData, dict]:
    set_threads(threads)
    fr = load_fragments(fragments)
    tok = np.load(tokens / "eval.npz")
    stats = json.loads((tokens / "tokens.json").read_text())
    window = stats["window"]
    names = [str(s) for s in fr["eval_species_names"]]
    seqs = {"fragments": [r.tobytes() for r in fr["eval_seqs"]], "contigs": contigs(fr)}
    ids = {"fragments": _split(tok["eval_ids"], tok["eval_offsets"]), "contigs": _split(tok["contig_ids"], tok["contig_offsets"])}
    embs: dict[str, dict[str, np.ndarray]] = {k: {} for k in seqs}
    timings = {}
    for method, fname in METHODS.items():
        path = train_dir / fname
        if not path.is_file():
            raise InputError(f"{path}: not found (run the train stage first)")
        enc = load_encoder(str(path))
        t0 = time.perf_counter()
        for k in seqs:
            embs[k][method] = embed_sequences(enc, ids[k], window, hp["eval"]["embed_batch"])
        timings[method] = time.perf_counter() - t0
    for k in seqs:
        embs[k]["tnf"] = tnf_features(seqs[k])
    frag = _adata(embs["fragments"], [names[i] for i in fr["eval_species"]], fr["eval_genome"], [len(s) for s in seqs["fragments"]])
    cont = _adata(embs["contigs"], [names[i] for i in fr["contig_species"]], fr["contig_genome"], [len(s) for s in seqs["contigs"]])
    n_bp = sum(map(len, seqs["fragments"])) + sum(map(len, seqs["contigs"]))
    info = {"embed_seconds": timings, "bp_embedded": n_bp, "bp_per_second": {m: n_bp / t for m, t in timings.items()}}
    frag.uns["embed"] = json.dumps(info)
    return frag, cont, info


def _write(a: ad.AnnData, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        a.write_h5ad(tmp)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.dnabert_s.embed", description=__doc__.split("\n\n")[0])
    p.add_argument("--fragments", required=True, type=Path)
    p.add_argument("--tokens", required=True, type=Path)
    p.add_argument("--train", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--contigs-out", required=True, type=Path)
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    hp = resolve_section(("genomics",), args.config, args.hparams, parts=STAGE_PARTS["embed"])
    frag, cont, info = embed(args.fragments, args.tokens, args.train, hp, args.threads)
    _write(cont, args.contigs_out)
    _write(frag, args.out)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
