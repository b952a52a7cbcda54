"""Decoupled contrastive learning: DCL and its von Mises-Fisher weighted variant DCLW (Yeh et al., ECCV 2022,
"Decoupled Contrastive Learning", arXiv 2110.06848)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core import distributed
from ssl_core.losses.infonce import _two_view_keys, check_temperature, masked_logsumexp

__all__ = ["vmf_weights", "dcl_loss", "dclw_loss"]


def vmf_weights(z1: torch.Tensor, z2: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    r"""DCLW positive weights (negative von Mises-Fisher weighting), treated as constants (no gradient).

    .. math::
        w_i = 2 - \frac{\exp(\cos(z^{(1)}_i, z^{(2)}_i)/\sigma)}
                      {\frac{1}{B}\sum_k \exp(\cos(z^{(1)}_k, z^{(2)}_k)/\sigma)}

    The weights average to one over the batch; pairs whose views already agree more than average get less weight.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must both be (B, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    with torch.no_grad():
        cos = (F.normalize(z1, dim=-1) * F.normalize(z2, dim=-1)).sum(-1) / sigma
        return 2 - z1.shape[0] * torch.softmax(cos, dim=0)


def dcl_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float = 0.1,
    *,
    sigma: float | None = None,
    pos_weights: torch.Tensor | None = None,
    gather_distributed: bool = False,
) -> torch.Tensor:
    r"""DCL (Yeh et al., 2022): NT-Xent with the positive pair removed from the denominator.

    With :math:`s(u, v) = \cos(u, v)/\tau` and the ``2B`` embeddings of both views, for each view
    :math:`k \in \{1, 2\}` (:math:`k'` the other one):

    .. math::
        \mathcal{L} = \frac{1}{2B} \sum_{k} \sum_{i} \Big[ -w_i\, s(z^{(k)}_i, z^{(k')}_i)
            + \log \sum_{l \in \{1,2\}} \sum_{j \ne i} \exp s(z^{(k)}_i, z^{(l)}_j) \Big]

    :math:`w_i = 1` for DCL; with ``sigma`` the DCLW weights of :func:`vmf_weights` (computed over the global
    batch when gathering); or any constant ``pos_weights`` of shape ``(B,)`` (e.g. another weighting function,
    no gradient flows through them). The decoupled loss can be negative. ``gather_distributed`` uses the other processes'
    embeddings as extra negatives (see :func:`ssl_core.nt_xent`); all processes need the same ``B``.
    """
    check_temperature(temperature)
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must both be (B, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if z1.shape[0] < 2:
        raise ValueError("DCL needs at least two samples (the negatives are the other samples)")
    gather = gather_distributed and distributed.world_size() > 1
    queries, keys, qidx, n = _two_view_keys(z1, z2, gather_distributed)
    b = z1.shape[0]
    pos_idx = (qidx + n) % (2 * n)
    pos_half = (queries[:b] * queries[b:]).sum(-1) / temperature  # the positive is the other local view
    pos = torch.cat([pos_half, pos_half])
    # the query itself and its positive are left out of the denominator
    neg, _ = masked_logsumexp(queries, keys, torch.stack([qidx, pos_idx], dim=1), scale=1.0 / temperature)
    if sigma is not None and pos_weights is not None:
        raise ValueError("give either sigma (DCLW weights) or pos_weights, not both")
    if pos_weights is not None:
        if pos_weights.shape != (z1.shape[0],):
            raise ValueError(f"pos_weights must have shape ({z1.shape[0]},), got {tuple(pos_weights.shape)}")
        w = pos_weights.detach().to(device=pos.device, dtype=pos.dtype)
        pos = pos * torch.cat([w, w])
    elif sigma is not None:
        if gather:
            w_all = vmf_weights(distributed.gather_no_grad(z1), distributed.gather_no_grad(z2), sigma)
            off = distributed.rank_offset(z1.shape[0])
            w = w_all[off : off + z1.shape[0]]
        else:
            w = vmf_weights(z1, z2, sigma)
        pos = pos * torch.cat([w, w]).to(pos.dtype)
    return (neg - pos).mean()


def dclw_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float = 0.1,
    sigma: float = 0.5,
    *,
    gather_distributed: bool = False,
) -> torch.Tensor:
    r"""DCLW (Yeh et al., 2022): :func:`dcl_loss` with positives weighted by :func:`vmf_weights`.

    .. math::
        \mathcal{L} = \frac{1}{2B} \sum_{k,i} \Big[ -w_i\, s(z^{(k)}_i, z^{(k')}_i)
            + \log \sum_{l} \sum_{j \ne i} \exp s(z^{(k)}_i, z^{(l)}_j) \Big],\quad
        w_i = 2 - \frac{e^{\cos(z^{(1)}_i, z^{(2)}_i)/\sigma}}{\frac1B \sum_k e^{\cos(z^{(1)}_k, z^{(2)}_k)/\sigma}}
    """
    return dcl_loss(z1, z2, temperature, sigma=sigma, gather_distributed=gather_distributed)
