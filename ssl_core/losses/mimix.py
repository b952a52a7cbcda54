r"""DNABERT-S losses (Zhou et al., 2024, "DNABERT-S: Pioneering Species Differentiation with Species-Aware DNA
Embeddings", arXiv 2402.08777): weighted SimCLR with hard-negative weights, and MI-Mix (manifold instance mixup).

Pure function, tensors in and scalar loss out. Embeddings are L2-normalised inside (cosine similarity).
MI-Mix, the second phase of the C^2LR curriculum, is :func:`ssl_core.losses.imix.i_mix_loss` on hidden states mixed
with :func:`ssl_core.mixup.mix`; the curriculum itself lives in the genomics training stage.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses.infonce import check_temperature

__all__ = ["weighted_simclr"]


def weighted_simclr(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.05, alpha: float = 1.0) -> torch.Tensor:
    r"""Weighted SimCLR of DNABERT-S: NT-Xent whose in-batch negatives are re-weighted by hardness.

    With the :math:`2B` embeddings :math:`z = [z^{(1)}; z^{(2)}]`, :math:`s_{ij} = \cos(z_i, z_j)`, positive
    :math:`p(i) = i \pm B` and negatives :math:`N(i) = \{j \ne i, j \ne p(i)\}`:

    .. math::
        w_{ij} = \frac{\exp(\alpha s_{ij} / \tau)}{\frac{1}{|N(i)|}\sum_{k \in N(i)} \exp(\alpha s_{ik} / \tau)},
        \qquad
        \mathcal{L} = -\frac{1}{2B} \sum_i \log
            \frac{\exp(s_{i p(i)}/\tau)}{\exp(s_{i p(i)}/\tau) + \sum_{j \in N(i)} w_{ij} \exp(s_{ij}/\tau)}

    The weights are constants (no gradient flows through them) and average to 1 over each row's negatives, so
    ``alpha = 0`` gives plain NT-Xent (SimCLR) exactly; larger ``alpha`` focuses on hard negatives.
    """
    check_temperature(temperature)
    if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 2:
        raise ValueError(f"z1 and z2 must both be (B, D) with B >= 2, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    sim = z @ z.T
    idx = torch.arange(2 * b, device=z.device)
    pos_idx = (idx + b) % (2 * b)
    neg_mask = torch.ones(2 * b, 2 * b, dtype=torch.bool, device=z.device)
    neg_mask[idx, idx] = False
    neg_mask[idx, pos_idx] = False
    with torch.no_grad():
        a = (alpha * sim / temperature).masked_fill(~neg_mask, float("-inf"))
        # w = exp(a) / mean(exp(a)) over negatives, computed in log space: log w = a - logsumexp(a) + log|N|.
        log_w = a - torch.logsumexp(a, dim=1, keepdim=True) + torch.log(neg_mask.sum(1, keepdim=True).to(z.dtype))
    logits = sim / temperature
    pos = logits[idx, pos_idx]
    neg_terms = (logits + log_w).masked_fill(~neg_mask, float("-inf"))
    denom = torch.logsumexp(torch.cat([pos.unsqueeze(1), neg_terms], dim=1), dim=1)
    return (denom - pos).mean()
