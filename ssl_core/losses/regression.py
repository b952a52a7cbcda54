"""Mixup for regression labels: C-Mixup partner sampling (Yao et al., NeurIPS 2022, "C-Mixup: Improving
Generalization in Regression") and SupReMix hard pairs (Wu et al., 2023, "Mixup Your Own Pairs", arXiv 2309.16633).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses.infonce import check_temperature

__all__ = ["c_mixup_probabilities", "c_mixup_partners", "supremix_pairs", "supremix_loss"]


def _label_matrix(labels: torch.Tensor) -> torch.Tensor:
    if labels.ndim == 1:
        return labels[:, None]
    if labels.ndim == 2:
        return labels
    raise ValueError(f"labels must be (B,) or (B, k), got {tuple(labels.shape)}")


def c_mixup_probabilities(labels: torch.Tensor, bandwidth: float, *, exclude_self: bool = False) -> torch.Tensor:
    r"""C-Mixup sampling matrix (Yao et al., 2022): row ``i`` is the distribution of sample ``i``'s partner.

    .. math::
        P(j \mid i) = \frac{\exp(-\lVert y_i - y_j \rVert^2 / (2\sigma^2))}
                           {\sum_k \exp(-\lVert y_i - y_k \rVert^2 / (2\sigma^2))}

    ``labels`` is ``(B,)`` or ``(B, k)``; ``bandwidth`` is :math:`\sigma`. ``exclude_self`` drops :math:`j = i`
    (which would leave the sample unmixed). Computed as a softmax, so tiny bandwidths do not underflow to 0/0.
    """
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    y = _label_matrix(labels).to(torch.float64) if not labels.is_floating_point() else _label_matrix(labels)
    if exclude_self and y.shape[0] < 2:
        raise ValueError("exclude_self needs at least two samples")
    d2 = torch.cdist(y, y).pow(2)
    logits = -d2 / (2 * bandwidth**2)
    if exclude_self:
        logits = logits.masked_fill(torch.eye(y.shape[0], dtype=torch.bool, device=y.device), float("-inf"))
    return torch.softmax(logits, dim=1)


def c_mixup_partners(
    labels: torch.Tensor,
    bandwidth: float,
    *,
    exclude_self: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one partner per sample from :func:`c_mixup_probabilities` (with replacement across rows).

    The result plays the role of ``perm`` in :func:`ssl_core.mix` (it need not be a permutation). Draws use
    ``generator`` or torch's global CPU generator.
    """
    probs = c_mixup_probabilities(labels, bandwidth, exclude_self=exclude_self)
    return torch.multinomial(probs.detach().cpu().double(), 1, generator=generator).squeeze(1).to(labels.device)


def _neighbours(y: torch.Tensor, tol: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each anchor: index of the nearest label strictly below (``< y - tol``) and above, and validity."""
    lower = y[None, :] < y[:, None] - tol
    upper = y[None, :] > y[:, None] + tol
    ninf = torch.tensor(float("-inf"), dtype=y.dtype, device=y.device)
    below_val, below = torch.where(lower, y[None, :], ninf).max(dim=1)
    above_val, above = torch.where(upper, -y[None, :], ninf).max(dim=1)
    return below, above, below_val > ninf, above_val > ninf


def supremix_pairs(
    z: torch.Tensor, labels: torch.Tensor, *, neg_lam: float = 0.5, tol: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""SupReMix hard pairs (Wu et al., 2023) built at the embedding level from label neighbours.

    For anchor ``a`` with label :math:`y_a`, let ``j`` be the sample with the nearest label below
    (:math:`y_j < y_a`) and ``k`` the nearest above (:math:`y_k > y_a`); embeddings are L2-normalised first.

    * hard positive (anchor-exclusive mixture, label exactly :math:`y_a`):
      :math:`h^+_a = \mu z_j + (1-\mu) z_k` with :math:`\mu = (y_k - y_a)/(y_k - y_j)`, so
      :math:`\mu y_j + (1-\mu) y_k = y_a`; valid when both neighbours exist.
    * hard negatives (anchor-inclusive mixtures, labels strictly between :math:`y_a` and the neighbour's):
      :math:`h^-_{a,1} = \nu z_a + (1-\nu) z_j` and :math:`h^-_{a,2} = \nu z_a + (1-\nu) z_k` with
      :math:`\nu` = ``neg_lam`` in ``(0, 1)``; each valid when its neighbour exists.

    Labels within ``tol`` of the anchor's count as equal; when several samples share the neighbouring label, the
    first one in batch order is used. Returns ``(hard_pos (B, D), pos_valid (B,),
    hard_neg (B, 2, D), neg_valid (B, 2))``; invalid rows hold zeros.
    """
    if z.ndim != 2 or labels.shape != (z.shape[0],):
        raise ValueError(f"z must be (B, D) and labels (B,), got {tuple(z.shape)} and {tuple(labels.shape)}")
    if not 0.0 < neg_lam < 1.0:
        raise ValueError(f"neg_lam must be in (0, 1), got {neg_lam}")
    y = labels.to(device=z.device, dtype=z.dtype)
    zn = F.normalize(z, dim=-1)
    below, above, has_below, has_above = _neighbours(y, tol)
    pos_valid = has_below & has_above
    span = torch.where(pos_valid, y[above] - y[below], torch.ones_like(y))
    mu = torch.where(pos_valid, (y[above] - y) / span, torch.zeros_like(y))[:, None]
    hard_pos = (mu * zn[below] + (1 - mu) * zn[above]) * pos_valid[:, None].to(z.dtype)
    neg_valid = torch.stack([has_below, has_above], dim=1)
    hard_neg = neg_lam * zn[:, None, :] + (1 - neg_lam) * torch.stack([zn[below], zn[above]], dim=1)
    hard_neg = hard_neg * neg_valid[..., None].to(z.dtype)
    return hard_pos, pos_valid, hard_neg, neg_valid


def supremix_loss(
    z: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 0.1,
    *,
    neg_lam: float = 0.5,
    tol: float = 0.0,
) -> torch.Tensor:
    r"""Supervised contrastive regression loss with SupReMix hard pairs (Wu et al., 2023).

    For anchor ``a`` (:math:`s(u,v) = \cos(u,v)/\tau`), positives :math:`P(a)` are the other samples with the
    same label (within ``tol``) plus the hard positive :math:`h^+_a`; the denominator :math:`A(a)` holds every
    other sample, :math:`h^+_a` and the hard negatives :math:`h^-_{a,\cdot}` of :func:`supremix_pairs`:

    .. math::
        \mathcal{L} = \frac{1}{|V|} \sum_{a \in V} \frac{-1}{|P(a)|} \sum_{p \in P(a)}
            \log \frac{e^{s(z_a, p)}}{\sum_{u \in A(a)} e^{s(z_a, u)}}

    where :math:`V` are the anchors with at least one positive (anchors at the extremes of the label range
    without an equal-label partner have none and are skipped). Gradients flow through the mixtures.
    """
    check_temperature(temperature)
    hard_pos, pos_valid, hard_neg, neg_valid = supremix_pairs(z, labels, neg_lam=neg_lam, tol=tol)
    b = z.shape[0]
    zn = F.normalize(z, dim=-1)
    ninf = torch.tensor(float("-inf"), dtype=z.dtype, device=z.device)
    eye = torch.eye(b, dtype=torch.bool, device=z.device)
    real = torch.where(eye, ninf, zn @ zn.T / temperature)
    hp = torch.where(pos_valid, F.cosine_similarity(zn, hard_pos + (~pos_valid)[:, None].to(z.dtype), dim=-1),
                     ninf) / temperature
    hn_vec = hard_neg + (~neg_valid)[..., None].to(z.dtype)  # keep invalid rows non-zero (finite cosine)
    hn = torch.where(neg_valid, F.cosine_similarity(zn[:, None, :], hn_vec, dim=-1), ninf) / temperature
    lse = torch.logsumexp(torch.cat([real, hp[:, None], hn], dim=1), dim=1)
    y = labels.to(device=z.device, dtype=z.dtype)
    same = ((y[:, None] - y[None, :]).abs() <= tol) & ~eye
    zero = torch.zeros((), dtype=z.dtype, device=z.device)
    pos_sum = torch.where(same, real, zero).sum(1) + torch.where(pos_valid, hp, zero)
    n_pos = same.sum(1) + pos_valid.to(same.sum(1).dtype)
    valid = n_pos > 0
    if not bool(valid.any()):
        raise ValueError("no anchor has a positive: need repeated labels or labels on both sides of an anchor")
    per_anchor = lse - pos_sum / n_pos.clamp(min=1).to(z.dtype)
    return per_anchor[valid].mean()
