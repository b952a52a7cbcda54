"""Tokenise: learn a DNA vocabulary on the training genomes and write the token shards training streams.

    python -m domains.genomics.dnabert_s.tokenize --fragments results/genomics/data/fragments.npz \
        --out results/genomics/tokens [--config ...] [--hparams ...] [--threads 1]

``tokenizer.kind``:
* ``bpe`` (DNABERT-2 style): byte-pair encoding learned with the ``tokenizers`` library on the tokenizer
  corpus (1 kb chunks of the training genomes only; held-out species never shape the vocabulary), ``vocab_size``
  entries including the special tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]``;
* ``kmer``: non-overlapping k-mers (``tokenizer.k``) with a fixed vocabulary of all 4^k k-mers;
* ``kmer_overlap`` (the default, DNABERT-1 style): every overlapping k-mer (stride 1), so a sequence of n bp is n - k + 1
  tokens and the mean of their embeddings is a learned linear map of the sequence's k-mer profile: the encoder
  starts as composition-aware as TNF (for k = 4) and contrastive training learns a metric on top.
``tokenizer.canonical`` (k-mer kinds): a k-mer and its reverse complement share one token (as canonical TNF),
giving (4^k + 4^(k/2)) / 2 k-mer tokens for even k and 4^k / 2 for odd k. K-mer kinds are encoded in numpy
(:func:`encode_kmers`); ``tokenizer.json`` then holds their word-level vocabulary.
With ``model.pretrained`` set, that checkpoint's ``tokenizer.json`` is used instead of learning one.

Outputs in ``--out``: ``tokenizer.json``; ``train/shard_NNN.npz`` (one per epoch: ``ids`` uint16 (int32 for
vocabularies over 65536) (steps, batch, 2, max_tokens) padded with [PAD] = 0, ``lengths``); ``eval.npz`` (token ids of held-out
fragments and binning contigs, concatenated with offsets); ``tokens.json`` (bp per token, truncation rate).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ssl_core.config import resolve_section
from domains.genomics.data.preprocess import contigs, load_fragments
from domains.genomics.settings import STAGE_PARTS
from ssl_core.atomic import atomic_path, write_json
from ssl_core.errors import InputError, report_input_errors

__all__ = ["SPECIALS", "PAD_ID", "KMER_KINDS", "build_tokenizer", "load_tokenizer", "encode", "encode_kmers",
           "kmer_table", "main"]

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD_ID = 0
UNK_ID = 1
KMER_KINDS = {"kmer", "kmer_overlap"}

_CODE = np.full(256, 4, dtype=np.int64)
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _i


def kmer_table(k: int, canonical: bool) -> tuple[list[str], np.ndarray]:
    """(k-mer strings of the vocabulary in id order after the specials, map from base-4 k-mer index (A=0 C=1 G=2
    T=3) to token id). Canonical: a k-mer and its reverse complement map to the id of the smaller one."""
    words: list[str] = []
    lut = np.empty(4 ** k, dtype=np.int32)
    ids: dict[int, int] = {}
    for x in range(4 ** k):
        digits = [(x >> (2 * (k - 1 - p))) & 3 for p in range(k)]
        key = x
        if canonical:
            rc = 0
            for d in reversed(digits):
                rc = rc * 4 + (3 - d)
            key = min(x, rc)
        if key not in ids:
            ids[key] = len(SPECIALS) + len(words)
            words.append("".join("ACGT"[d] for d in digits))  # key == x: x is the first of its class
        lut[x] = ids[key]
    return words, lut


def build_tokenizer(kind: str, vocab_size: int, k: int, corpus: list[str], canonical: bool = False):
    """A ``tokenizers.Tokenizer``: BPE learned on ``corpus``, or the fixed vocabulary of (canonical) k-mers
    (non-overlapping ones also encode through the tokenizer itself when not canonical)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=list("ACGT"),
                                      show_progress=False)
        tok.train_from_iterator(corpus, trainer)
    else:
        vocab = {s: i for i, s in enumerate(SPECIALS)}
        for w in kmer_table(k, canonical)[0]:
            vocab[w] = len(vocab)
        tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(f".{{1,{k}}}"), behavior="isolated")
    if tok.token_to_id("[PAD]") != PAD_ID:
        raise InputError("tokenizer: [PAD] must have id 0")
    return tok


def load_tokenizer(path: str | os.PathLike[str]):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def encode(tok, seqs: list[str], kmer: dict[str, Any] | None = None) -> list[np.ndarray]:
    """Token ids of each sequence: through ``tok``, or for a k-mer kind (``kmer`` = the tokenizer section) through
    :func:`encode_kmers`."""
    if kmer is not None and kmer["kind"] in KMER_KINDS:
        stride = 1 if kmer["kind"] == "kmer_overlap" else kmer["k"]
        lut = kmer_table(kmer["k"], kmer["canonical"])[1]
        return [encode_kmers(s.encode("ascii"), kmer["k"], stride, lut) for s in seqs]
    return [np.asarray(e.ids, dtype=np.int32) for e in tok.encode_batch(seqs, add_special_tokens=False)]


def encode_kmers(seq: bytes, k: int, stride: int, lut: np.ndarray) -> np.ndarray:
    """Ids of the k-mers starting every ``stride`` bp (a k-mer with a base other than ACGT is [UNK]; a trailing
    piece shorter than k is dropped, as is a sequence shorter than k)."""
    c = _CODE[np.frombuffer(seq.upper(), dtype=np.uint8)]
    n = len(c) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int32)
    idx = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    for p in range(k):
        d = c[p:p + n]
        idx = idx * 4 + (d & 3)
        bad |= d > 3
    out = np.where(bad, UNK_ID, lut[idx]).astype(np.int32)
    return out[::stride]


def _ascii(a: np.ndarray) -> list[str]:
    return [row.tobytes().decode("ascii") for row in a]


def _concat(ids: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    return (np.concatenate(ids) if ids else np.zeros(0, np.int32)), np.concatenate([[0], np.cumsum(lengths)])


def tokenize(fragments: dict[str, np.ndarray], hp: dict[str, Any], out: Path) -> dict[str, Any]:
    tk, tr = hp["tokenizer"], hp["train"]
    pretrained = hp["model"]["pretrained"]
    if pretrained:
        src = Path(pretrained) / "tokenizer.json"
        if not src.is_file():
            raise InputError(f"config: genomics.model.pretrained: {src} not found (a local checkpoint directory with tokenizer.json)")
        tok = load_tokenizer(src)
    else:
        tok = build_tokenizer(tk["kind"], tk["vocab_size"], tk["k"], _ascii(fragments["corpus"]), tk["canonical"])
    kmer = None if pretrained else tk
    T = tk["max_tokens"]
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "tokenizer.json") as tmp:
        tok.save(str(tmp))

    pairs = fragments["pairs"]  # (n_batches, B, 2, L) uint8
    n_batches, B = pairs.shape[:2]
    steps = tr["steps_per_epoch"]
    epochs = n_batches // steps
    shard_dir = out / "train"
    tmp_dir = out / ".train.part"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    bp_total, tok_total, truncated, n_seq = 0, 0, 0, 0
    for e in range(epochs):
        chunk = pairs[e * steps:(e + 1) * steps].reshape(-1, pairs.shape[-1])
        ids = encode(tok, _ascii(chunk), kmer)
        arr = np.zeros((len(ids), T), dtype=np.uint16 if tok.get_vocab_size() <= 65536 else np.int32)
        lengths = np.zeros(len(ids), dtype=np.int32)
        for i, x in enumerate(ids):
            n = min(len(x), T)
            arr[i, :n] = x[:n]
            lengths[i] = n
            truncated += len(x) > T
            tok_total += len(x)
        bp_total += chunk.size
        n_seq += len(ids)
        buf = io.BytesIO()
        np.savez(buf, ids=arr.reshape(steps, B, 2, T), lengths=lengths.reshape(steps, B, 2),
                 species=fragments["pair_species"][e * steps:(e + 1) * steps])
        (tmp_dir / f"shard_{e:03d}.npz").write_bytes(buf.getvalue())
    shutil.rmtree(shard_dir, ignore_errors=True)
    os.replace(tmp_dir, shard_dir)

    eval_ids, eval_off = _concat(encode(tok, _ascii(fragments["eval_seqs"]), kmer))
    contig_ids, contig_off = _concat(encode(tok, [c.decode("ascii") for c in contigs(fragments)], kmer))
    with atomic_path(out / "eval.npz") as tmp:
        buf = io.BytesIO()
        np.savez(buf, eval_ids=eval_ids, eval_offsets=eval_off, contig_ids=contig_ids, contig_offsets=contig_off)
        tmp.write_bytes(buf.getvalue())
    stats = {
        "kind": "pretrained" if pretrained else tk["kind"], "vocab_size": tok.get_vocab_size(), "max_tokens": T,
        "window": tk["window"] or T,
        "epochs": epochs, "steps_per_epoch": steps, "batch_size": int(B),
        "bp_per_token_train": bp_total / max(tok_total, 1), "truncated_fraction": truncated / max(n_seq, 1),
        "eval_tokens": int(len(eval_ids)), "contig_tokens": int(len(contig_ids)),
    }
    write_json(out / "tokens.json", stats)
    return stats


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.dnabert_s.tokenize", description=__doc__.split("\n\n")[0])
    p.add_argument("--fragments", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    if not args.fragments.is_file():
        raise InputError(f"{args.fragments}: file not found (run the preprocess stage first)")
    hp = resolve_section(("genomics",), args.config, args.hparams, parts=STAGE_PARTS["tokenize"])
    print(json.dumps(tokenize(load_fragments(args.fragments), hp, args.out)))


if __name__ == "__main__":
    main()
