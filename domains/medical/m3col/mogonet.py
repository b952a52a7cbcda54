"""MOGONET-style baseline (Wang et al., 2021, Nature Communications): one graph convolutional network per omics
view on a patient-similarity graph, fused by a view correlation discovery network (VCDN).

- Graph: per view, each patient is linked to its ``k`` most cosine-similar patients (scikit-learn's
  ``kneighbors_graph``), edges weighted by the similarity, symmetrised, self-loops added, rows normalised.
  As in MOGONET the graph spans training and test patients (transductive; no test label is used).
- GCN per view: ``H <- ReLU(A H W)`` for each hidden width, then a linear classifier on the last layer.
- VCDN: the outer product of the views' class probabilities (a ``C^V`` tensor, flattened) goes through a two-layer
  MLP to the fused class logits.
- Loss: cross-entropy of every view's classifier plus that of the VCDN, on the fitting rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import kneighbors_graph
from torch import nn

__all__ = ["MOGONETConfig", "patient_graph", "MOGONET"]


@dataclass(frozen=True)
class MOGONETConfig:
    input_dims: tuple[int, ...]
    n_classes: int
    hidden_dims: tuple[int, ...] = (200, 200, 100)
    vcdn_hidden: int = 64
    dropout: float = 0.5


def patient_graph(x: np.ndarray, k: int) -> torch.Tensor:
    """Row-normalised, symmetric cosine-kNN adjacency with self-loops, as a sparse tensor (n x n)."""
    n = x.shape[0]
    knn = kneighbors_graph(x, n_neighbors=min(k, n - 1), mode="distance", metric="cosine", include_self=False)
    knn.data = np.clip(1.0 - knn.data, 0.0, None)  # cosine distance -> similarity
    adj = knn.maximum(knn.T).tocoo()
    rows = np.concatenate([adj.row, np.arange(n)])
    cols = np.concatenate([adj.col, np.arange(n)])
    vals = np.concatenate([adj.data, np.ones(n)])
    deg = np.bincount(rows, weights=vals, minlength=n)
    vals = vals / deg[rows]
    idx = torch.as_tensor(np.vstack([rows, cols]), dtype=torch.long)
    return torch.sparse_coo_tensor(idx, torch.as_tensor(vals, dtype=torch.float32), (n, n)).coalesce()


class GCN(nn.Module):
    """Stacked graph convolutions ``ReLU(A H W)`` with dropout, then a linear classifier."""

    def __init__(self, in_dim: int, hidden: Sequence[int], n_classes: int, dropout: float) -> None:
        super().__init__()
        dims = [in_dim, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.classifier = nn.Linear(dims[-1], n_classes)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.layers:
            h = F.dropout(F.leaky_relu(_propagate(adj, layer(h)), 0.25), self.dropout, self.training)
        return self.classifier(h)


def _propagate(adj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``A H`` in the sparse adjacency's precision (fp32): under bf16/fp16 mixed precision ``H`` arrives in half
    precision, and sparse products in half precision are not supported on every device. fp32 runs are unchanged."""
    with torch.autocast(device_type=h.device.type, enabled=False):
        return torch.sparse.mm(adj, h.to(adj.dtype))


class MOGONET(nn.Module):
    """Per-view GCNs and the VCDN fusion; :meth:`loss` is the training objective on the rows in ``mask``."""

    def __init__(self, cfg: MOGONETConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.gcns = nn.ModuleList(GCN(d, cfg.hidden_dims, cfg.n_classes, cfg.dropout) for d in cfg.input_dims)
        self.vcdn = nn.Sequential(
            nn.Linear(cfg.n_classes ** len(cfg.input_dims), cfg.vcdn_hidden), nn.LeakyReLU(0.25),
            nn.Linear(cfg.vcdn_hidden, cfg.n_classes),
        )

    def view_logits(self, views: Sequence[torch.Tensor], adjs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [gcn(x, a) for gcn, x, a in zip(self.gcns, views, adjs)]

    def fuse(self, logits: Sequence[torch.Tensor]) -> torch.Tensor:
        """VCDN: flattened outer product of the views' class probabilities -> fused logits."""
        probs = [torch.sigmoid(z) for z in logits]  # MOGONET feeds sigmoid scores to the VCDN
        tensor = probs[0]
        for p in probs[1:]:
            tensor = (tensor.unsqueeze(-1) * p.unsqueeze(1)).flatten(1)
        return self.vcdn(tensor)

    def forward(self, views: Sequence[torch.Tensor], adjs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fuse(self.view_logits(views, adjs))

    def loss(self, views: Sequence[torch.Tensor], adjs: Sequence[torch.Tensor], y: torch.Tensor,
             mask: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.view_logits(views, adjs)
        fused = self.fuse(logits)
        out = {"logits": fused, "fusion_ce": F.cross_entropy(fused[mask], y[mask])}
        out["unimodal_ce"] = torch.stack([F.cross_entropy(z[mask], y[mask]) for z in logits]).sum()
        out["total"] = out["fusion_ce"] + out["unimodal_ce"]
        return out
