"""The query and code encoders: a BERT-style transformer (from a ``transformers`` config, or a local checkpoint)
with mean pooling over the non-padding tokens; batches of texts are tokenized with the shared BPE vocabulary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn
from transformers import BertConfig, BertModel

from ssl_core.atomic import atomic_path
from ssl_core.errors import InputError

__all__ = ["MeanPoolEncoder", "bert_config", "batch_ids", "encode_texts", "save_encoders", "load_encoders"]


def bert_config(model: dict[str, Any], vocab_size: int) -> BertConfig:
    """A small BERT from the ``code.model`` config section."""
    return BertConfig(
        vocab_size=vocab_size, hidden_size=model["hidden_size"], num_hidden_layers=model["num_layers"],
        num_attention_heads=model["num_heads"], intermediate_size=model["intermediate_size"],
        hidden_dropout_prob=model["dropout"], attention_probs_dropout_prob=model["dropout"],
        max_position_embeddings=max(model["max_query_tokens"], model["max_code_tokens"]) + 2, pad_token_id=0,
    )


class MeanPoolEncoder(nn.Module):
    """BERT encoder whose output is the mean of the last hidden states over the real (non-padding) tokens."""

    def __init__(self, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


def batch_ids(tokenizer: Tokenizer, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``[CLS] text [SEP]`` truncated to ``max_len``, padded to the longest in the batch, and the mask."""
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    enc = tokenizer.encode_batch(texts, add_special_tokens=False)
    seqs = [[cls] + e.ids[: max_len - 2] + [sep] for e in enc]
    width = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
    ids_t = torch.from_numpy(ids)
    return ids_t, (ids_t != 0).long()


@torch.no_grad()
def encode_texts(encoder: MeanPoolEncoder, tokenizer: Tokenizer, texts: list[str], max_len: int,
                 batch_size: int = 256) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` (float32, one row each); batches are sorted by length to pad less.
    The batches go to the device the encoder is on."""
    encoder.eval()
    device = next(encoder.parameters()).device
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), encoder.bert.config.hidden_size), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = batch_ids(tokenizer, [texts[i] for i in idx], max_len)
        z = torch.nn.functional.normalize(encoder(ids.to(device), mask.to(device)), dim=-1)
        out[idx] = z.float().cpu().numpy()
    return out


def save_encoders(query: MeanPoolEncoder, code: MeanPoolEncoder, dest: Path) -> None:
    """Both towers' configs and weights in one file (the same weights twice when they are shared), on the CPU
    wherever the encoders are."""
    towers = {"query": query.bert.state_dict(), "code": code.bert.state_dict()}
    for name, state in towers.items():
        for key, value in state.items():
            if value.device.type != "cpu":  # one CPU copy of a shared tower's weights
                state[key] = towers["query"][key] if name == "code" and query is code else value.cpu()
    blob = {"config": json.loads(json.dumps(query.bert.config.to_dict(), default=str)), **towers,
            "shared": query is code}
    with atomic_path(dest) as tmp:
        torch.save(blob, tmp)


def load_encoders(path: Path) -> tuple[MeanPoolEncoder, MeanPoolEncoder]:
    """(query encoder, code encoder) saved by :func:`save_encoders`."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-facing problem
        raise InputError(f"{path}: not a saved encoder ({type(exc).__name__})") from None
    cfg = BertConfig(**{k: v for k, v in blob["config"].items() if k not in ("architectures", "transformers_version")})
    towers = []
    for name in ("query", "code"):
        enc = MeanPoolEncoder(BertModel(cfg, add_pooling_layer=False))
        enc.bert.load_state_dict(blob[name])
        towers.append(enc)
    if blob["shared"]:
        towers[1] = towers[0]
    return towers[0], towers[1]
