"""M3CoL for multi-omics classification (Kumar et al., 2024, arXiv 2409.17777, medical setting).

One encoder per omics view, a fusion classifier on the concatenated view embeddings, one auxiliary (unimodal)
classifier per view, and a contrastive term between every pair of views: the mixup-based M3Co loss for the first
part of training, the soft-target CLIP loss after it (the paper's schedule).

    loss = CE(fusion) + w_uni * sum_v CE(head_v) + w_con * contrastive
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.losses import m3co_multimodal_loss, soft_clip_loss
from ssl_core.mixup import mixup

__all__ = ["M3CoLConfig", "M3CoL", "ViewEncoder", "ClassifierHead"]


@dataclass(frozen=True)
class M3CoLConfig:
    """Architecture and loss settings (the ``medical.model`` and ``medical.m3co`` config sections)."""

    input_dims: tuple[int, ...]
    n_classes: int
    embed_dim: int = 1000
    head_dim: int = 1000
    dropout: float = 0.5
    alpha: float = 0.15
    prob: float = 0.5
    temperature: float = 0.1
    soft_clip_temperature: float = 0.125
    contrastive_weight: float = 0.1
    unimodal_weight: float = 1.0
    mix_at: str = "input"  # "input" or "embedding"

    def __post_init__(self) -> None:
        if self.mix_at not in ("input", "embedding"):
            raise ValueError(f"mix_at must be 'input' or 'embedding', got {self.mix_at!r}")
        if len(self.input_dims) < 2:
            raise ValueError("M3CoL needs at least two views")


class ViewEncoder(nn.Sequential):
    """Two-layer MLP from one view's features to its embedding."""

    def __init__(self, in_dim: int, embed_dim: int) -> None:
        super().__init__(nn.Linear(in_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, embed_dim))
        for m in self:
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)


class ClassifierHead(nn.Sequential):
    """Hidden layer with dropout, then class logits."""

    def __init__(self, in_dim: int, hidden: int, n_classes: int, dropout: float) -> None:
        super().__init__(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))


class M3CoL(nn.Module):
    """Encoders, unimodal heads and fusion head; :meth:`loss` computes the full training objective."""

    def __init__(self, cfg: M3CoLConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoders = nn.ModuleList(ViewEncoder(d, cfg.embed_dim) for d in cfg.input_dims)
        self.unimodal_heads = nn.ModuleList(
            ClassifierHead(cfg.embed_dim, cfg.head_dim, cfg.n_classes, cfg.dropout) for _ in cfg.input_dims
        )
        self.fusion_head = ClassifierHead(cfg.embed_dim * len(cfg.input_dims), cfg.head_dim, cfg.n_classes, cfg.dropout)

    def embed(self, views: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [enc(x) for enc, x in zip(self.encoders, views)]

    def forward(self, views: Sequence[torch.Tensor]) -> torch.Tensor:
        """Fusion logits: what the model predicts at test time."""
        return self.fusion_head(torch.cat(self.embed(views), dim=-1))

    def contrastive_loss(self, views: Sequence[torch.Tensor], embs: Sequence[torch.Tensor], use_mixup: bool) -> torch.Tensor:
        """M3Co over every ordered pair of views (``use_mixup``), else soft CLIP over every pair."""
        cfg = self.cfg
        if not use_mixup:
            terms = [soft_clip_loss(embs[a], embs[b], cfg.soft_clip_temperature) for a, b in itertools.combinations(range(len(embs)), 2)]
            return torch.stack(terms).mean()
        mixed, lams, perms = [], [], []
        for enc, x, e in zip(self.encoders, views, embs):
            if cfg.mix_at == "input":
                batch = mixup(x, cfg.alpha, prob=cfg.prob)
                mixed.append(enc(batch.mixed))
            else:
                batch = mixup(e, cfg.alpha, prob=cfg.prob)
                mixed.append(batch.mixed)
            lams.append(batch.lam)
            perms.append(batch.perm)
        return m3co_multimodal_loss(mixed, embs, lams, perms, cfg.temperature)

    def loss(self, views: Sequence[torch.Tensor], y: torch.Tensor, use_mixup: bool) -> dict[str, torch.Tensor]:
        """All terms of the objective; ``total`` is what is minimised."""
        embs = self.embed(views)
        fused = self.fusion_head(torch.cat(embs, dim=-1))
        out = {"fusion_ce": F.cross_entropy(fused, y), "logits": fused}
        out["unimodal_ce"] = torch.stack([F.cross_entropy(h(e), y) for h, e in zip(self.unimodal_heads, embs)]).sum()
        out["contrastive"] = self.contrastive_loss(views, embs, use_mixup)
        out["total"] = out["fusion_ce"] + self.cfg.unimodal_weight * out["unimodal_ce"] + self.cfg.contrastive_weight * out["contrastive"]
        return out
