"""M3Co: the multimodal mixup contrastive loss of M3CoL (Kumar et al., 2024, arXiv 2409.17777).

A batch of modality ``a`` is mixed with itself (``x_a~[i] = lam_i x_a[i] + (1 - lam_i) x_a[perm[i]]``) and
encoded; the mixed embedding must find *both* of its sources among the unmixed embeddings of another modality
``b``, in proportion to how much of each it contains. The second half of M3CoL training replaces it with the
unmixed soft-target loss :func:`soft_clip_loss` (the authors' ``use_soft_clip`` switch).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ssl_core.losses.infonce import check_temperature, soft_target_cross_entropy

__all__ = ["mixup_targets", "m3co_loss", "m3co_multimodal_loss", "soft_clip_loss"]


def mixup_targets(lam: torch.Tensor, perm: torch.Tensor, n_keys: int | None = None) -> torch.Tensor:
    """Soft target matrix ``T`` with ``T[i, i] += lam_i`` and ``T[i, perm[i]] += 1 - lam_i``.

    Rows sum to one; a sample paired with itself (``perm[i] == i``) gets all its mass on the diagonal.
    """
    b = lam.shape[0]
    n_keys = b if n_keys is None else n_keys
    rows = torch.arange(b, device=lam.device)
    targets = torch.zeros(b, n_keys, dtype=lam.dtype, device=lam.device)
    targets.index_put_((rows, rows), lam, accumulate=True)
    targets.index_put_((rows, perm.to(lam.device)), 1 - lam, accumulate=True)
    return targets


def m3co_loss(
    mixed: torch.Tensor,
    other: torch.Tensor,
    lam: torch.Tensor,
    perm: torch.Tensor,
    temperature: float = 0.1,
    *,
    bidirectional: bool = False,
) -> torch.Tensor:
    r"""M3Co loss for one ordered pair of modalities (mixed ``a`` -> unmixed ``b``).

    With :math:`\tilde p_i` the embedding of the mixed sample of modality ``a``, :math:`q_j` the embeddings of
    modality ``b`` and :math:`s_{ij} = \cos(\tilde p_i, q_j) / \tau`:

    .. math::
        \mathcal{L}_{a \to b} = -\frac{1}{B} \sum_i \Big[ \lambda_i \log \frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}
            + (1 - \lambda_i) \log \frac{e^{s_{i,\pi(i)}}}{\sum_j e^{s_{ij}}} \Big]

    ``lam = 1`` everywhere reduces it to one-directional InfoNCE. ``bidirectional`` also reads the similarity
    matrix by columns (each unmixed ``q_j`` against all mixed samples, targets transposed) and averages, as the
    authors' implementation does.

    Args:
        mixed: ``(B, D)`` embeddings of the mixed samples of modality ``a``.
        other: ``(B, D)`` embeddings of the unmixed samples of modality ``b``.
        lam: ``(B,)`` weight of each mixed sample's own source.
        perm: ``(B,)`` index of its partner source.
    """
    check_temperature(temperature)
    if mixed.shape != other.shape or mixed.ndim != 2:
        raise ValueError(f"mixed and other must both be (B, D), got {tuple(mixed.shape)} and {tuple(other.shape)}")
    logits = F.normalize(mixed, dim=-1) @ F.normalize(other, dim=-1).T / temperature
    targets = mixup_targets(lam.to(logits.dtype), perm)
    loss = soft_target_cross_entropy(logits, targets)
    if bidirectional:
        loss = 0.5 * (loss + soft_target_cross_entropy(logits.T, targets.T))
    return loss


def m3co_multimodal_loss(
    mixed: Sequence[torch.Tensor],
    unmixed: Sequence[torch.Tensor],
    lam: Sequence[torch.Tensor],
    perm: Sequence[torch.Tensor],
    temperature: float = 0.1,
) -> torch.Tensor:
    r"""Mean of :func:`m3co_loss` over every ordered pair of distinct modalities.

    ``mixed[m]`` is modality ``m`` mixed with its own ``lam[m]``/``perm[m]``; ``unmixed[m]`` its clean embeddings.
    Each pair is covered in both directions (``a -> b`` and ``b -> a``), so for ``M`` modalities this averages
    ``M (M - 1)`` terms.
    """
    n = len(mixed)
    if not (n == len(unmixed) == len(lam) == len(perm)) or n < 2:
        raise ValueError("need at least two modalities, with one mixed, unmixed, lam and perm entry each")
    terms = [
        m3co_loss(mixed[a], unmixed[b], lam[a], perm[a], temperature)
        for a, b in itertools.permutations(range(n), 2)
    ]
    return torch.stack(terms).mean()


def soft_clip_loss(preds: torch.Tensor, targets: torch.Tensor, temperature: float = 0.125) -> torch.Tensor:
    r"""Soft-target CLIP loss: cross-modal logits against the intra-modal similarity of the target modality.

    With :math:`S^{pt}_{ij} = \cos(p_i, t_j)/\tau` and :math:`S^{tt}_{ij} = \cos(t_i, t_j)/\tau`:

    .. math::
        \mathcal{L} = \tfrac12 \big[ \mathrm{CE}(S^{pt}, \mathrm{softmax}(S^{tt}))
            + \mathrm{CE}(S^{pt\top}, \mathrm{softmax}(S^{tt})) \big]

    Samples whose targets look alike are not pushed apart as hard negatives. Used by M3CoL after the mixup phase.
    The target distribution is treated as a constant (no gradient flows through it).
    """
    check_temperature(temperature)
    p = F.normalize(preds, dim=-1)
    t = F.normalize(targets, dim=-1)
    soft = F.softmax(t @ t.T / temperature, dim=-1).detach()
    logits = p @ t.T / temperature
    return 0.5 * (soft_target_cross_entropy(logits, soft) + soft_target_cross_entropy(logits.T, soft))
