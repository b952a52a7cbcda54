"""The DNA encoder: a BERT-style transformer (``transformers.BertModel``) with mean pooling, as DNABERT-S.

Built from a ``BertConfig`` (small by default so CPU training takes minutes) or loaded from a local checkpoint
directory (``model.pretrained``; ``local_files_only``, never downloaded). Besides the plain forward pass it can
mix the hidden states of two sequences at a chosen layer (MI-Mix) and embed sequences longer than the position
table by pooling over windows: an unpadded batch longer than the position table (``window`` tokens) is cut into
windows that attend within themselves, and the token states of all windows of a sequence are pooled together.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import BertConfig, BertModel

from ssl_core.mixup import mix

__all__ = ["DNAEncoder", "bert_config", "load_encoder", "embed_sequences"]


def bert_config(model_hp: dict[str, Any], vocab_size: int, max_tokens: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size, hidden_size=model_hp["hidden_size"], num_hidden_layers=model_hp["num_layers"],
        num_attention_heads=model_hp["num_heads"], intermediate_size=model_hp["intermediate_size"],
        hidden_dropout_prob=model_hp["dropout"], attention_probs_dropout_prob=model_hp["dropout"],
        max_position_embeddings=max_tokens, type_vocab_size=1, pad_token_id=0, add_pooling_layer=False,
    )


class DNAEncoder(nn.Module):
    """BertModel + mean pooling over non-padding tokens."""

    def __init__(self, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert

    @property
    def num_layers(self) -> int:
        return len(self.bert.encoder.layer)

    @property
    def window(self) -> int:
        return int(self.bert.config.max_position_embeddings)

    def _windows(self, ids: torch.Tensor) -> torch.Tensor:
        """(n, L) unpadded ids -> (n * L / w, w) windows; L must be at most w or a multiple of it."""
        n, length = ids.shape
        w = self.window
        if length <= w:
            return ids
        if length % w:
            raise ValueError(f"{length} tokens: not a multiple of the {w}-token window")
        return ids.reshape(n * (length // w), w)

    def token_states(self, ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None and ids.shape[1] > self.window:
            n, length = ids.shape
            h = self.bert(input_ids=self._windows(ids)).last_hidden_state
            return h.reshape(n, length, -1)
        return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state

    @staticmethod
    def pool(h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None:
            return h.mean(dim=1)
        m = mask.to(h.dtype).unsqueeze(-1)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.pool(self.token_states(ids, mask), mask)

    def forward_mixed(self, ids: torch.Tensor, layer: int, lam: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
        """Mean-pooled output when the hidden states entering layer ``layer`` (0 = the embedding output) are
        mixed, sequence i with sequence ``perm[i]`` at weight ``lam[i]``. Inputs must not be padded; inputs longer
        than the window are cut into windows (window j of i mixes with window j of ``perm[i]``)."""
        n, length = ids.shape
        ids = self._windows(ids)
        per = ids.shape[0] // n
        if per > 1:
            lam = lam.repeat_interleave(per)
            perm = (perm.unsqueeze(1) * per + torch.arange(per)).reshape(-1)
        h = self.bert.embeddings(input_ids=ids)
        layers = self.bert.encoder.layer
        for blk in layers[:layer]:
            h = blk(h, None)
        h = mix(h, lam, perm)
        for blk in layers[layer:]:
            h = blk(h, None)
        return h.reshape(n, -1, h.shape[-1]).mean(dim=1)


def load_encoder(path: str, map_location: str = "cpu") -> DNAEncoder:
    """An encoder saved by the training stage (``{"config": dict, "state_dict": ...}``)."""
    blob = torch.load(path, map_location=map_location, weights_only=True)
    bert = BertModel(BertConfig(**blob["config"]), add_pooling_layer=False)
    bert.load_state_dict(blob["state_dict"])
    return DNAEncoder(bert).eval()


@torch.no_grad()
def embed_sequences(encoder: DNAEncoder, ids: list[np.ndarray], window: int, batch: int = 32) -> np.ndarray:
    """Mean-pooled embedding of each token sequence; sequences longer than ``window`` tokens are cut into windows
    whose token states are pooled together (a token-weighted mean over all windows)."""
    pieces = []  # (sequence index, window ids)
    for i, x in enumerate(ids):
        for s in range(0, max(len(x), 1), window):
            pieces.append((i, x[s:s + window]))
    order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][1]))
    dim = encoder.bert.config.hidden_size
    sums = torch.zeros(len(ids), dim, dtype=torch.float64)
    counts = torch.zeros(len(ids), dtype=torch.float64)
    for start in range(0, len(order), batch):
        chunk = [pieces[k] for k in order[start:start + batch]]
        T = max(len(w) for _, w in chunk)
        arr = torch.zeros(len(chunk), T, dtype=torch.long)
        mask = torch.zeros(len(chunk), T, dtype=torch.long)
        for r, (_, w) in enumerate(chunk):
            arr[r, :len(w)] = torch.as_tensor(w, dtype=torch.long)
            mask[r, :len(w)] = 1
        h = encoder.token_states(arr, mask)
        tok_sum = (h * mask.unsqueeze(-1).to(h.dtype)).sum(1).double()
        for r, (i, w) in enumerate(chunk):
            sums[i] += tok_sum[r]
            counts[i] += len(w)
    return (sums / counts.clamp_min(1).unsqueeze(1)).float().numpy()
