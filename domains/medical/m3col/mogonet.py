"""MOGONET (Wang et al., 2021, Nature Communications), following the recipe of the authors' code (txWang/MOGONET):
one graph convolutional network per omics view on a patient-similarity graph, fused by a view correlation
discovery network (VCDN).

- **Graphs** (:func:`edge_threshold`, :func:`patient_graphs`): per view, the cosine distance between patients. The
  threshold is the distance at which the training patients' graph keeps on average ``edges_per_node`` edges per
  node, self-pairs included (MOGONET's ``adj_parameter``: 2 for ROSMAP, 10 for BRCA). Kept pairs are weighted by
  their cosine similarity, the matrix symmetrised (element-wise maximum), self-loops added and rows normalised to
  sum 1. Training uses the graph of the training patients only; prediction uses a graph over all patients whose
  edges join a test patient to a training patient (same threshold), so a test patient is classified from its
  training neighbours and no test label is used.
- **GCN per view**: graph convolutions ``A H W + b`` (Xavier-normal weights, zero biases), each followed by
  leaky ReLU (slope 0.25) and, except the last, dropout; then a linear classifier to class scores.
- **VCDN**: the outer product of the views' sigmoid class scores (a ``C^V`` tensor, flattened) through a two-layer
  MLP of hidden width ``C^V`` to the fused class logits.
- **Loss** of every classifier: cross-entropy of each training row weighted by its class's share of the training
  rows (MOGONET's ``cal_sample_weight``), averaged.
- **Schedule** (:class:`domains.medical.m3col.train.MOGONETModule`): ``pretrain_epochs`` of the views' GCNs alone
  (one Adam per view, ``pretrain_lr``), then ``epochs`` of joint training with fresh optimisers: each epoch one
  step per view on its own loss (``lr``), then one step of the VCDN on the fused loss (``vcdn_lr``; the GCNs are
  trained by their own losses only). The reported model is the last epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics.pairwise import cosine_distances
from sklearn.preprocessing import normalize
from torch import nn

__all__ = ["MOGONETConfig", "edge_threshold", "patient_graphs", "class_share_weights", "MOGONET"]


@dataclass(frozen=True)
class MOGONETConfig:
    input_dims: tuple[int, ...]
    n_classes: int
    hidden_dims: tuple[int, ...] = (200, 200, 100)
    dropout: float = 0.5


def edge_threshold(distances: np.ndarray, edges_per_node: int) -> float:
    """The cosine distance at which the square ``distances`` of the training patients keeps ``edges_per_node``
    pairs per patient on average, self-pairs included (MOGONET's ``adj_parameter``)."""
    flat = distances.ravel()
    k = min(edges_per_node * distances.shape[0], flat.size - 1)
    return float(np.partition(flat, k)[k])


def _adjacency(similarity: np.ndarray, keep: np.ndarray) -> torch.Tensor:
    """Kept similarities, symmetrised by the element-wise maximum, plus self-loops, rows normalised to sum 1."""
    adj = np.where(keep, similarity, 0.0)
    adj = np.maximum(adj, adj.T) + np.eye(len(adj))
    return torch.as_tensor(normalize(adj, norm="l1"), dtype=torch.float32).to_sparse().coalesce()


def patient_graphs(x: np.ndarray, train: np.ndarray, edges_per_node: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One view's graphs: over the ``train`` rows (training), and over all rows of ``x`` (prediction; edges only
    between a training and a non-training row), both thresholded at :func:`edge_threshold` of the training rows."""
    dist = cosine_distances(x)
    is_train = np.zeros(len(x), dtype=bool)
    is_train[train] = True
    tr = dist[np.ix_(train, train)]
    threshold = edge_threshold(tr, edges_per_node)
    train_keep = (tr <= threshold) & ~np.eye(len(train), dtype=bool)
    across = is_train[:, None] != is_train[None, :]
    return _adjacency(1.0 - tr, train_keep), _adjacency(1.0 - dist, (dist <= threshold) & across)


def class_share_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Each row's weight in the loss: its class's share of the rows ``y`` (MOGONET's ``cal_sample_weight``)."""
    return (np.bincount(y, minlength=n_classes) / len(y))[y]


def _propagate(adj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``A H`` in the sparse adjacency's precision (fp32): under bf16/fp16 mixed precision ``H`` arrives in half
    precision, and sparse products in half precision are not supported on every device. fp32 runs are unchanged."""
    with torch.autocast(device_type=h.device.type, enabled=False):
        return torch.sparse.mm(adj, h.to(adj.dtype))


def _xavier(module: nn.Module) -> nn.Module:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
    return module


class GCN(nn.Module):
    """Graph convolutions ``A H W + b`` with leaky ReLU (dropout between them), then a linear classifier. ``A``
    rows sum to 1, so ``A (H W + b)`` equals ``A H W + b``."""

    def __init__(self, in_dim: int, hidden: Sequence[int], n_classes: int, dropout: float) -> None:
        super().__init__()
        dims = [in_dim, *hidden]
        self.layers = _xavier(nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])))
        self.classifier = _xavier(nn.Linear(dims[-1], n_classes))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        h = x
        for i, layer in enumerate(self.layers):
            h = F.leaky_relu(_propagate(adj, layer(h)), 0.25)
            if i < len(self.layers) - 1:
                h = F.dropout(h, self.dropout, self.training)
        return self.classifier(h)


class MOGONET(nn.Module):
    """Per-view GCNs (``gcns``) and the VCDN fusion (``vcdn``)."""

    def __init__(self, cfg: MOGONETConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.gcns = nn.ModuleList(GCN(d, cfg.hidden_dims, cfg.n_classes, cfg.dropout) for d in cfg.input_dims)
        width = cfg.n_classes ** len(cfg.input_dims)
        self.vcdn = _xavier(nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(0.25),
                                          nn.Linear(width, cfg.n_classes)))

    def view_logits(self, views: Sequence[torch.Tensor], adjs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [gcn(x, a) for gcn, x, a in zip(self.gcns, views, adjs)]

    def fuse(self, logits: Sequence[torch.Tensor]) -> torch.Tensor:
        """VCDN: flattened outer product of the views' sigmoid class scores -> fused logits."""
        probs = [torch.sigmoid(z) for z in logits]
        tensor = probs[0]
        for p in probs[1:]:
            tensor = (tensor.unsqueeze(-1) * p.unsqueeze(1)).flatten(1)
        return self.vcdn(tensor)

    def forward(self, views: Sequence[torch.Tensor], adjs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fuse(self.view_logits(views, adjs))
