"""Contrastive losses for more than two views per sample."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ssl_core import distributed
from ssl_core.losses.infonce import check_temperature

__all__ = ["multiview_info_nce"]


def multiview_info_nce(
    views: torch.Tensor | Sequence[torch.Tensor],
    temperature: float = 0.1,
    *,
    mode: str = "joint",
    gather_distributed: bool = False,
) -> torch.Tensor:
    r"""Multi-view InfoNCE for ``V >= 2`` views of ``B`` samples.

    ``views`` is a ``(V, B, D)`` tensor or a sequence of ``V`` tensors of shape ``(B, D)``. With
    :math:`s(u, v) = \cos(u, v)/\tau` and :math:`u_{i,l}` view ``l`` of sample ``i``:

    ``mode="joint"`` -- MV-InfoNCE (Koromilas et al., 2025, "A Principled Framework for Multi-View Contrastive
    Learning", arXiv 2507.06979): one term per sample with every within-sample pair in the numerator and every
    cross-sample pair in the denominator,

    .. math::
        P_i = \sum_{l \ne m} e^{s(u_{i,l}, u_{i,m})},\quad
        N_i = \sum_{l, m} \sum_{j \ne i} e^{s(u_{i,l}, u_{j,m})},\quad
        \mathcal{L} = -\frac1B \sum_i \log \frac{P_i}{P_i + N_i}

    ``mode="pairwise"`` -- the usual aggregation (SimCLR / SupCon with the sample index as label, Khosla et al.,
    2020): every view is an anchor, its ``V - 1`` sibling views are positives, all other views are the
    denominator; equals :func:`ssl_core.nt_xent` for ``V = 2``:

    .. math::
        \mathcal{L} = -\frac{1}{VB} \sum_{i,l} \frac{1}{V-1} \sum_{m \ne l}
            \log \frac{e^{s(u_{i,l}, u_{i,m})}}{\sum_{(j,n) \ne (i,l)} e^{s(u_{i,l}, u_{j,n})}}

    ``gather_distributed`` takes the keys of all processes (with gradient); equal ``B`` on every process.
    """
    check_temperature(temperature)
    if mode not in ("joint", "pairwise"):
        raise ValueError(f"mode must be 'joint' or 'pairwise', got {mode!r}")
    z = views if isinstance(views, torch.Tensor) else torch.stack(list(views))
    if z.ndim != 3 or z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(f"views must be (V, B, D) with V >= 2, got {tuple(z.shape)}")
    n_views, b, d = z.shape
    z = F.normalize(z, dim=-1)
    queries = z.reshape(n_views * b, d)  # row l * B + i
    if gather_distributed and distributed.world_size() > 1:
        keys_v = distributed.gather(z.transpose(0, 1).contiguous()).transpose(0, 1)  # (V, N, D)
        off = distributed.rank_offset(b)
    else:
        keys_v, off = z, 0
    n = keys_v.shape[1]
    if n < 2:
        raise ValueError("multi-view InfoNCE needs at least two samples (the negatives are the other samples)")
    keys = keys_v.reshape(n_views * n, d)
    logits = queries @ keys.T / temperature
    dev = logits.device
    q_sample = torch.arange(b, device=dev).repeat(n_views) + off
    q_view = torch.arange(n_views, device=dev).repeat_interleave(b)
    k_sample = torch.arange(n, device=dev).repeat(n_views)
    k_view = torch.arange(n_views, device=dev).repeat_interleave(n)
    same = q_sample[:, None] == k_sample[None, :]
    self_mask = same & (q_view[:, None] == k_view[None, :])
    pos_mask = same & ~self_mask
    ninf = torch.tensor(float("-inf"), dtype=logits.dtype, device=dev)
    if mode == "joint":
        pos_row = torch.logsumexp(torch.where(pos_mask, logits, ninf), dim=1).reshape(n_views, b)
        neg_row = torch.logsumexp(torch.where(same, ninf, logits), dim=1).reshape(n_views, b)
        log_p, log_n = torch.logsumexp(pos_row, dim=0), torch.logsumexp(neg_row, dim=0)
        return (torch.logaddexp(log_p, log_n) - log_p).mean()
    lse = torch.logsumexp(torch.where(self_mask, ninf, logits), dim=1)
    pos_mean = torch.where(pos_mask, logits, torch.zeros((), dtype=logits.dtype, device=dev)).sum(1) / (n_views - 1)
    return (lse - pos_mean).mean()
