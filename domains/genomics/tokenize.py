"""Tokenise: learn a DNA vocabulary on the training genomes and write the token shards training streams.

    python -m domains.genomics.tokenize --fragments results/genomics/data/fragments.npz \
        --out results/genomics/tokens [--config ...] [--hparams ...] [--threads 1]

``tokenizer.kind``:
* ``bpe`` (default, DNABERT-2 style): byte-pair encoding learned with the ``tokenizers`` library on the tokenizer
  corpus (1 kb chunks of the training genomes only; held-out species never shape the vocabulary), ``vocab_size``
  entries including the special tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]``;
* ``kmer``: non-overlapping k-mers (``tokenizer.k``) with a fixed vocabulary of all 4^k k-mers.
With ``model.pretrained`` set, that checkpoint's ``tokenizer.json`` is used instead of learning one.

Outputs in ``--out``: ``tokenizer.json``; ``train/shard_NNN.npz`` (one per epoch: ``ids`` int32
(steps, batch, 2, max_tokens) padded with [PAD] = 0, ``lengths``); ``eval.npz`` (token ids of held-out
fragments and binning contigs, concatenated with offsets); ``tokens.json`` (bp per token, truncation rate).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from domains.genomics.hparams import resolve_hparams
from domains.genomics.preprocess import contigs, load_fragments
from ssl_core.atomic import atomic_path, write_json
from ssl_core.errors import InputError, report_input_errors

__all__ = ["SPECIALS", "PAD_ID", "build_tokenizer", "load_tokenizer", "encode", "main"]

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD_ID = 0


def build_tokenizer(kind: str, vocab_size: int, k: int, corpus: list[str]):
    """A ``tokenizers.Tokenizer``: BPE learned on ``corpus``, or fixed non-overlapping k-mers."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=list("ACGT"),
                                      show_progress=False)
        tok.train_from_iterator(corpus, trainer)
    else:
        vocab = {s: i for i, s in enumerate(SPECIALS)}
        for kmer in itertools.product("ACGT", repeat=k):
            vocab["".join(kmer)] = len(vocab)
        tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(f".{{1,{k}}}"), behavior="isolated")
    if tok.token_to_id("[PAD]") != PAD_ID:
        raise InputError("tokenizer: [PAD] must have id 0")
    return tok


def load_tokenizer(path: str | os.PathLike[str]):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def encode(tok, seqs: list[str]) -> list[np.ndarray]:
    return [np.asarray(e.ids, dtype=np.int32) for e in tok.encode_batch(seqs, add_special_tokens=False)]


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
        tok = build_tokenizer(tk["kind"], tk["vocab_size"], tk["k"], _ascii(fragments["corpus"]))
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
        ids = encode(tok, _ascii(chunk))
        arr = np.zeros((len(ids), T), dtype=np.int32)
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

    eval_ids, eval_off = _concat(encode(tok, _ascii(fragments["eval_seqs"])))
    contig_ids, contig_off = _concat(encode(tok, [c.decode("ascii") for c in contigs(fragments)]))
    with atomic_path(out / "eval.npz") as tmp:
        buf = io.BytesIO()
        np.savez(buf, eval_ids=eval_ids, eval_offsets=eval_off, contig_ids=contig_ids, contig_offsets=contig_off)
        tmp.write_bytes(buf.getvalue())
    stats = {
        "kind": "pretrained" if pretrained else tk["kind"], "vocab_size": tok.get_vocab_size(), "max_tokens": T,
        "epochs": epochs, "steps_per_epoch": steps, "batch_size": int(B),
        "bp_per_token_train": bp_total / max(tok_total, 1), "truncated_fraction": truncated / max(n_seq, 1),
        "eval_tokens": int(len(eval_ids)), "contig_tokens": int(len(contig_ids)),
    }
    write_json(out / "tokens.json", stats)
    return stats


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.tokenize", description=__doc__.split("\n\n")[0])
    p.add_argument("--fragments", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    if not args.fragments.is_file():
        raise InputError(f"{args.fragments}: file not found (run the preprocess stage first)")
    hp = resolve_hparams(args.config, args.hparams)
    print(json.dumps(tokenize(load_fragments(args.fragments), hp, args.out)))


if __name__ == "__main__":
    main()
