r"""DNABERT-S losses (Zhou et al., 2024, "DNABERT-S: Pioneering Species Differentiation with Species-Aware DNA
Embeddings", arXiv 2402.08777): weighted SimCLR with hard-negative weights, and MI-Mix (manifold instance mixup).

Pure functions, tensors in and scalar loss out. Embeddings are L2-normalised inside (cosine similarity).
Kept in a new module so the shared InfoNCE / mixup files stay untouched; the C^2LR curriculum (phase 1 weighted
SimCLR, phase 2 MI-Mix) lives in the training stage that calls these.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses.infonce import check_temperature, soft_target_cross_entropy

__all__ = ["weighted_simclr", "mimix_loss", "mimix_targets", "mix_hidden"]


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


def mix_hidden(h: torch.Tensor, lam: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    r"""MI-Mix's mixing of hidden states at one layer: :math:`\tilde h_i = \lambda_i h_i + (1-\lambda_i) h_{\pi(i)}`.

    ``h`` is (B, ...) (e.g. (B, T, H) token states), ``lam`` (B,), ``perm`` a permutation of ``range(B)``.
    """
    shape = (-1,) + (1,) * (h.ndim - 1)
    lam = lam.to(h.dtype).reshape(shape)
    return lam * h + (1 - lam) * h[perm]


def mimix_targets(lam: torch.Tensor, perm: torch.Tensor, n_keys: int) -> torch.Tensor:
    r"""Soft targets of MI-Mix: row i puts :math:`\lambda_i` on key i and :math:`1-\lambda_i` on key :math:`\pi(i)`."""
    b = lam.shape[0]
    t = torch.zeros(b, n_keys, dtype=lam.dtype, device=lam.device)
    rows = torch.arange(b, device=lam.device)
    t[rows, rows] += lam
    t[rows, perm] += 1 - lam
    return t


def mimix_loss(z_mix: torch.Tensor, keys: torch.Tensor, lam: torch.Tensor, perm: torch.Tensor,
               temperature: float = 0.05) -> torch.Tensor:
    r"""MI-Mix loss of DNABERT-S: the output embedding of a mixed sequence recovers the mixing proportions.

    Anchor :math:`i` was mixed with anchor :math:`\pi(i)` at a hidden layer with weight :math:`\lambda_i`
    (:func:`mix_hidden`), giving output embedding :math:`\tilde z_i`. ``keys[j]`` is the positive (other fragment
    of the same genome) of anchor :math:`j`; every key is a candidate. With :math:`s_{ij} = \cos(\tilde z_i, k_j)/\tau`:

    .. math::
        \mathcal{L} = -\frac{1}{B} \sum_i \Big[\lambda_i \log \frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}
            + (1-\lambda_i) \log \frac{e^{s_{i\pi(i)}}}{\sum_j e^{s_{ij}}}\Big]

    ``keys`` may hold more rows than ``z_mix`` (extra negatives); ``perm`` indexes the first B keys.
    """
    check_temperature(temperature)
    if z_mix.ndim != 2 or keys.ndim != 2 or keys.shape[0] < z_mix.shape[0]:
        raise ValueError(f"z_mix (B, D) and keys (N >= B, D) expected, got {tuple(z_mix.shape)}, {tuple(keys.shape)}")
    logits = F.normalize(z_mix, dim=-1) @ F.normalize(keys, dim=-1).T / temperature
    return soft_target_cross_entropy(logits, mimix_targets(lam.to(logits.dtype), perm, keys.shape[0]))
