"""The embedding networks of the metric domain, each split into a trunk (up to the feature map that
Metrix/feature mixes) and a head (pooling, linear embedding, L2 normalisation).

* ``esc50``: the semi-supervised audio CNN (:class:`domains.audio.semisup.models.SmallCNN`) with a
  ``model.embedding_dim`` linear layer in place of its classifier; the trunk is its conv blocks (the last block's
  feature map is mixed, as the authors mix ResNet-50's layer4 output before pooling), the head its pooling (mean
  over frequency, max + mean over time) and the linear embedding.
* ``species``: an MLP on z-scored canonical k-mer profiles; the trunk is the hidden layers (the last hidden
  activations are mixed), the head the linear embedding.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from domains.audio.semisup.models import SmallCNN

__all__ = ["EmbeddingNet", "AudioEmbedding", "KmerEmbedding", "build_model"]


class EmbeddingNet(nn.Module):
    """``forward(x) = head(trunk(x))``, an L2-normalised embedding; inputs are normalised by fixed buffers."""

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def head(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


class AudioEmbedding(EmbeddingNet):
    def __init__(self, channels: list[int], dim: int, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.cnn = SmallCNN(dim, list(channels), dropout=0.0)
        self.register_buffer("mean", mean.float())  # [1, mels, 1] of the training clips
        self.register_buffer("std", std.float())

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn.features(((x - self.mean) / self.std).unsqueeze(1))  # [B, C, mels', frames']

    def head(self, h: torch.Tensor) -> torch.Tensor:
        h = h.mean(dim=2)
        return F.normalize(self.cnn.head(torch.cat([h.amax(dim=2), h.mean(dim=2)], dim=1)), dim=1)


class KmerEmbedding(EmbeddingNet):
    def __init__(self, n_in: int, hidden: list[int], dim: int, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
            width = h
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Linear(width, dim)
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp((x - self.mean) / self.std)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.out(h), dim=1)


def build_model(kind: str, model: dict[str, Any], x_train: torch.Tensor) -> EmbeddingNet:
    """The data set's network (``kind``: ``esc50`` log-mels ``[N, mels, frames]`` or ``species`` profiles
    ``[N, F]``), its input normalisation fitted on the training examples ``x_train`` only."""
    dim = int(model["embedding_dim"])
    if kind == "esc50":
        mean = x_train.mean(dim=(0, 2), keepdim=True)[0:1]
        std = x_train.std(dim=(0, 2), keepdim=True).clamp_min(1e-3)
        return AudioEmbedding(model["channels"], dim, mean, std)
    mean = x_train.mean(0, keepdim=True)
    std = x_train.std(0, keepdim=True).clamp_min(1e-6)
    return KmerEmbedding(x_train.shape[1], model["hidden"], dim, mean, std)
