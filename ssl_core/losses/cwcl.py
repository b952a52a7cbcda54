"""CWCL: continuously weighted contrastive loss (Srinivasa et al., NeurIPS 2023, "CWCL: Cross-Modal Transfer
with Continuously Weighted Contrastive Loss")."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses.infonce import check_temperature

__all__ = ["cwcl_weights", "cwcl_loss"]


def cwcl_weights(x: torch.Tensor) -> torch.Tensor:
    r"""Intra-modal similarity weights :math:`w_{ij} = (1 + \cos(x_i, x_j)) / 2 \in [0, 1]`, no gradient.

    ``x`` are the embeddings of the modality whose encoder is pretrained (frozen); ``w_ii = 1``.
    """
    if x.ndim != 2:
        raise ValueError(f"x must be (B, D), got {tuple(x.shape)}")
    with torch.no_grad():
        xn = F.normalize(x, dim=-1)
        return (1 + xn @ xn.T) / 2


def cwcl_loss(
    p: torch.Tensor,
    q: torch.Tensor,
    temperature: float = 0.07,
    *,
    weights: torch.Tensor | None = None,
    symmetric: bool = True,
) -> torch.Tensor:
    r"""CWCL (Srinivasa et al., 2023): every pair is a positive in proportion to how alike its two targets are.

    With :math:`s_{ij} = \cos(p_i, q_j)/\tau` and weights :math:`w_{ij}` (default :func:`cwcl_weights` of ``q``,
    the pretrained modality):

    .. math::
        \mathcal{L}_{p \to q} = -\frac1B \sum_i \frac{1}{\sum_j w_{ij}} \sum_j w_{ij}
            \log \frac{e^{s_{ij}}}{\sum_k e^{s_{ik}}}

    ``symmetric`` averages it with :math:`\mathcal{L}_{q \to p}` (the same weights read by columns, i.e. the
    transposed logits with :math:`w^\top`). ``weights = I`` gives CLIP's InfoNCE. The weights get no gradient.
    """
    check_temperature(temperature)
    if p.ndim != 2 or p.shape != q.shape:
        raise ValueError(f"p and q must both be (B, D), got {tuple(p.shape)} and {tuple(q.shape)}")
    b = p.shape[0]
    w = cwcl_weights(q) if weights is None else weights.detach()
    if w.shape != (b, b):
        raise ValueError(f"weights must be ({b}, {b}), got {tuple(w.shape)}")
    if bool((w < 0).any()) or bool((w.sum(1) <= 0).any()) or bool((w.sum(0) <= 0).any()):
        raise ValueError("weights must be non-negative with positive row and column sums")
    w = w.to(device=p.device, dtype=p.dtype)
    logits = F.normalize(p, dim=-1) @ F.normalize(q, dim=-1).T / temperature

    def one_way(lg: torch.Tensor, wt: torch.Tensor) -> torch.Tensor:
        return -((wt / wt.sum(1, keepdim=True)) * F.log_softmax(lg, dim=1)).sum(1).mean()

    loss = one_way(logits, w)
    if symmetric:
        loss = 0.5 * (loss + one_way(logits.T, w.T))
    return loss
