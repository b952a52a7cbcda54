"""Deep metric learning losses and Metrix, mixup for metric learning (Venkataramanan, Psomas, Kijak, Amsaleg,
Karantzalos, Avrithis, ICLR 2022, "It Takes Two to Tango: Mixup for Deep Metric Learning", arXiv 2106.04990).

Metrix writes a pair-based loss for an anchor ``a`` over labelled examples ``(x, y)``, ``y = 1`` for a positive and
``y = 0`` for a negative, with similarity ``s``:

.. math::
    \\ell(a) = \\sigma^+\\Big(\\sum_x y\\,\\rho^+(s(a,x))\\Big) + \\sigma^-\\Big(\\sum_x (1-y)\\,\\rho^-(s(a,x))\\Big)

and then lets ``y`` be fractional: a mixed example :math:`v = \\lambda x + (1-\\lambda) x'` of a positive and a
negative of ``a`` gets :math:`y = \\lambda`, so both terms act on it. Everything here follows that one formulation:

* :func:`soft_label_pair_terms` / :func:`soft_label_pair_loss`: the generic loss, ``rho`` and ``sigma`` passed in;
* clean losses :func:`contrastive_loss`, :func:`multi_similarity_loss`, :func:`proxy_anchor_loss` (they equal
  pytorch-metric-learning's ``ContrastiveLoss(pos_margin=0, neg_margin=0.5)``, ``MultiSimilarityLoss()`` without a
  miner and ``ProxyAnchorLoss()``, see ``tests/core/test_metrix.py``), with :class:`ProxyAnchorProxies`;
* their Metrix forms :func:`metrix_contrastive_loss`, :func:`metrix_multi_similarity_loss`,
  :func:`metrix_proxy_anchor_loss` (the mixed term ``ell~``, on embeddings of mixed examples);
* the mixing pairs :func:`metrix_pairs` and :func:`metrix_mix` (mix images, a feature map or the embeddings);
* :func:`metrix_loss` = clean + ``weight`` x mixed, and the paper's utilization :func:`metrix_utilization`.

Choices where the paper's code leaves gaps are listed in ``docs/ssl_core.md`` (Metrix notes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.mixup import sample_lambda

__all__ = [
    "MetrixPairs",
    "ProxyAnchorProxies",
    "contrastive_loss",
    "metrix_class_targets",
    "metrix_contrastive_loss",
    "metrix_loss",
    "metrix_mix",
    "metrix_multi_similarity_loss",
    "metrix_pairs",
    "metrix_proxy_anchor_loss",
    "metrix_utilization",
    "multi_similarity_loss",
    "proxy_anchor_loss",
    "soft_label_pair_loss",
    "soft_label_pair_terms",
]

Scheme = Literal["both", "pos_neg", "anchor_neg"]
MetricLoss = Literal["contrastive", "multi_similarity", "proxy_anchor"]


# ------------------------------------------------------------------------------------------------ checks
def _check_embeddings(name: str, x: torch.Tensor) -> None:
    if x.ndim != 2 or x.shape[0] < 1 or not x.is_floating_point():
        raise ValueError(f"{name} must be a floating (N, D) tensor with N >= 1, got {x.dtype} {tuple(x.shape)}")


def _check_labels(embeddings: torch.Tensor, labels: torch.Tensor, *, two_classes: bool = True) -> None:
    _check_embeddings("embeddings", embeddings)
    if labels.shape != (embeddings.shape[0],) or labels.is_floating_point() or labels.is_complex():
        raise ValueError(
            f"labels must be an integer tensor of shape ({embeddings.shape[0]},), got {labels.dtype} "
            f"{tuple(labels.shape)}"
        )
    if two_classes and torch.unique(labels).numel() < 2:
        raise ValueError("labels need at least two classes in the batch (a metric loss needs negatives)")


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _check_contrastive_margins(pos_margin: float, neg_margin: float) -> None:
    # Euclidean distances between unit vectors lie in [0, 2].
    if not 0.0 <= pos_margin < neg_margin <= 2.0:
        raise ValueError(f"contrastive margins must satisfy 0 <= pos_margin < neg_margin <= 2, got {pos_margin}, "
                         f"{neg_margin}")


def _check_ms(alpha: float, beta: float, base: float) -> None:
    _check_positive("multi-similarity alpha", alpha)
    _check_positive("multi-similarity beta", beta)
    if not -1.0 <= base <= 1.0:
        raise ValueError(f"multi-similarity base must be a cosine similarity in [-1, 1], got {base}")


def _check_pa(alpha: float, margin: float) -> None:
    _check_positive("proxy anchor alpha", alpha)
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"proxy anchor margin must be in [0, 1), got {margin}")


def _check_proxies(proxies: torch.Tensor, dim: int) -> None:
    if proxies.ndim != 2 or proxies.shape[0] < 2 or proxies.shape[1] != dim:
        raise ValueError(f"proxies must be (C, {dim}) with C >= 2 classes, got {tuple(proxies.shape)}")


def _check_mixed(anchors: torch.Tensor, mixed: torch.Tensor, pairs: MetrixPairs) -> None:
    _check_embeddings("anchors", anchors)
    k = pairs.anchor.shape[0]
    if mixed.ndim != 2 or mixed.shape != (k, anchors.shape[1]):
        raise ValueError(f"mixed must be ({k}, {anchors.shape[1]}) (one row per mixing pair), got "
                         f"{tuple(mixed.shape)}")
    if k and int(pairs.anchor.max()) >= anchors.shape[0]:
        raise ValueError(f"pairs index anchor {int(pairs.anchor.max())} but there are {anchors.shape[0]} anchors")


# ------------------------------------------------------------------------------------- numerical helpers
def _log1p_sum_exp(z: torch.Tensor, w: torch.Tensor, dim: int) -> torch.Tensor:
    """``log(1 + sum_dim w * exp(z))`` for weights ``w >= 0``, computed stably (0 where every weight is 0)."""
    active = w > 0
    neg_inf = torch.tensor(float("-inf"), dtype=z.dtype, device=z.device)
    m = torch.where(active, z, neg_inf).detach().amax(dim=dim, keepdim=True).clamp(min=0)
    e = torch.exp(torch.where(active, z - m, neg_inf))
    s = (w * e).sum(dim=dim, keepdim=True)
    return (m + torch.log(torch.exp(-m) + s)).squeeze(dim)


def _segment_log1p_sum_exp(z: torch.Tensor, w: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    """``out[i] = log(1 + sum_{k: index[k] = i} w[k] exp(z[k]))``, stably, for ``w >= 0``; shape ``(n,)``."""
    active = w > 0
    neg_inf = torch.tensor(float("-inf"), dtype=z.dtype, device=z.device)
    m = torch.zeros(n, dtype=z.dtype, device=z.device).scatter_reduce(
        0, index, torch.where(active, z, neg_inf).detach(), reduce="amax", include_self=True
    )
    e = torch.exp(torch.where(active, z - m[index], neg_inf))
    s = torch.zeros(n, dtype=z.dtype, device=z.device).index_add(0, index, w * e)
    return m + torch.log(torch.exp(-m) + s)


def _avg_nonzero(terms: torch.Tensor) -> torch.Tensor:
    """pytorch-metric-learning's AvgNonZeroReducer: mean over the entries > 0, and 0 when there is none."""
    return terms.sum() / (terms > 0).sum().clamp(min=1).to(terms.dtype)


def _pair_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


# ------------------------------------------------------------------------------------- generic formulation
def soft_label_pair_terms(
    sim: torch.Tensor,
    anchor_index: torch.Tensor,
    target: torch.Tensor,
    n_anchors: int,
    rho_pos: Callable[[torch.Tensor], torch.Tensor],
    rho_neg: Callable[[torch.Tensor], torch.Tensor],
    sigma_pos: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
    sigma_neg: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The two terms of Metrix's generic soft-label loss (Venkataramanan et al., ICLR 2022, Sec. 3), per anchor.

    Pair ``k`` joins anchor ``anchor_index[k]`` to an example with similarity (or distance) ``sim[k]`` and label
    ``target[k]`` :math:`= y \in [0, 1]`. For each anchor ``a`` in ``range(n_anchors)``:

    .. math::
        \text{pos}(a) = \sigma^+\Big(\sum_{k \to a} y_k\, \rho^+(s_k)\Big), \qquad
        \text{neg}(a) = \sigma^-\Big(\sum_{k \to a} (1 - y_k)\, \rho^-(s_k)\Big)

    and :math:`\ell(a) = \text{pos}(a) + \text{neg}(a)`. Binary ``y`` gives the clean loss, fractional ``y`` the
    mixed one (:math:`\tilde\ell`). ``rho`` and ``sigma`` act elementwise; an anchor without pairs gets
    ``sigma(0)``. A pair whose weight is 0 adds exactly 0 (even where ``rho`` is inf). This is the plain
    formula; the named losses below compute the same values in a numerically stable and vectorised form.

    Returns ``(pos, neg)``, each of shape ``(n_anchors,)``.
    """
    if sim.ndim != 1 or anchor_index.shape != sim.shape or target.shape != sim.shape:
        raise ValueError(f"sim, anchor_index and target must all be (K,), got {tuple(sim.shape)}, "
                         f"{tuple(anchor_index.shape)}, {tuple(target.shape)}")
    if sim.numel() and (int(anchor_index.min()) < 0 or int(anchor_index.max()) >= n_anchors):
        raise ValueError(f"anchor_index must lie in [0, {n_anchors})")
    y = target.to(sim.dtype)
    if y.numel() and not bool(((y >= 0) & (y <= 1)).all()):
        raise ValueError("target labels y must lie in [0, 1]")
    zero = torch.zeros((), dtype=sim.dtype, device=sim.device)
    wp = torch.where(y > 0, y * rho_pos(sim), zero)
    wn = torch.where(y < 1, (1 - y) * rho_neg(sim), zero)
    acc = torch.zeros(n_anchors, dtype=sim.dtype, device=sim.device)
    return sigma_pos(acc.index_add(0, anchor_index, wp)), sigma_neg(acc.index_add(0, anchor_index, wn))


def soft_label_pair_loss(
    sim: torch.Tensor,
    anchor_index: torch.Tensor,
    target: torch.Tensor,
    n_anchors: int,
    rho_pos: Callable[[torch.Tensor], torch.Tensor],
    rho_neg: Callable[[torch.Tensor], torch.Tensor],
    sigma_pos: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
    sigma_neg: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
) -> torch.Tensor:
    r"""Mean over anchors of Metrix's generic loss (Venkataramanan et al., ICLR 2022):

    .. math::
        \mathcal{L} = \frac{1}{A}\sum_a \sigma^+\Big(\sum_{(x,y)} y\,\rho^+(s(a,x))\Big)
            + \sigma^-\Big(\sum_{(x,y)} (1-y)\,\rho^-(s(a,x))\Big),\qquad y \in [0, 1]

    See :func:`soft_label_pair_terms` for the arguments. With :math:`\rho^+(s) = e^{-\alpha(s-b)}`,
    :math:`\rho^-(s) = e^{\beta(s-b)}`, :math:`\sigma^+ = \tfrac1\alpha\log(1+\cdot)`,
    :math:`\sigma^- = \tfrac1\beta\log(1+\cdot)` and cosine ``sim`` it is :func:`multi_similarity_loss`.
    """
    pos, neg = soft_label_pair_terms(sim, anchor_index, target, n_anchors, rho_pos, rho_neg, sigma_pos, sigma_neg)
    return (pos + neg).mean()


# -------------------------------------------------------------------------------------------- clean losses
def contrastive_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    pos_margin: float = 0.0,
    neg_margin: float = 0.5,
) -> torch.Tensor:
    r"""Contrastive loss (Hadsell et al., CVPR 2006) as used by Metrix (Venkataramanan et al., ICLR 2022).

    With :math:`d` the Euclidean distance between L2-normalised embeddings, positive pairs :math:`P` (same label,
    ``i != j``) and negative pairs :math:`N`:

    .. math::
        \mathcal{L} = \operatorname{avg}_{\neq 0}\,\{[d_{ij} - m^+]_+\}_{(i,j) \in P}
            + \operatorname{avg}_{\neq 0}\,\{[m^- - d_{ij}]_+\}_{(i,j) \in N}

    where :math:`\operatorname{avg}_{\neq 0}` averages over the non-zero terms (0 if none), as
    pytorch-metric-learning's AvgNonZeroReducer. Margins 0 / 0.5 are the Metrix code's; the result equals
    ``pytorch_metric_learning.losses.ContrastiveLoss(pos_margin=0, neg_margin=0.5)``. In the generic form
    (:func:`soft_label_pair_terms`): :math:`\rho^+ = [d - m^+]_+`, :math:`\rho^- = [m^- - d]_+`, identity
    :math:`\sigma^\pm`, with a batch-wide normaliser instead of a per-anchor mean.
    """
    _check_labels(embeddings, labels)
    _check_contrastive_margins(pos_margin, neg_margin)
    z = F.normalize(embeddings, dim=1)
    d = torch.cdist(z, z)
    pos, neg = _pair_masks(labels.to(z.device))
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    pos_terms = torch.where(pos, F.relu(d - pos_margin), zero)
    neg_terms = torch.where(neg, F.relu(neg_margin - d), zero)
    return _avg_nonzero(pos_terms) + _avg_nonzero(neg_terms)


def multi_similarity_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 2.0,
    beta: float = 50.0,
    base: float = 0.5,
) -> torch.Tensor:
    r"""Multi-similarity loss (Wang et al., CVPR 2019, "Multi-Similarity Loss with General Pair Weighting"),
    without the miner, in the form used by Metrix (Venkataramanan et al., ICLR 2022).

    With :math:`s` the cosine similarity and every other sample of the batch a positive or a negative:

    .. math::
        \mathcal{L} = \frac1B \sum_a \frac1\alpha \log\Big(1 + \sum_{p \in P(a)} e^{-\alpha(s_{ap} - b)}\Big)
            + \frac1\beta \log\Big(1 + \sum_{n \in N(a)} e^{\beta(s_{an} - b)}\Big)

    Defaults (alpha 2, beta 50, base 0.5) are pytorch-metric-learning's; the result equals its
    ``MultiSimilarityLoss()`` called without a miner (every pair). The Metrix code used alpha 17.97, beta 75.66,
    base 0.77 with a ``MultiSimilarityMiner(epsilon=0.39)``, which is not part of this function.
    """
    _check_labels(embeddings, labels)
    _check_ms(alpha, beta, base)
    z = F.normalize(embeddings, dim=1)
    s = z @ z.T
    pos, neg = _pair_masks(labels.to(z.device))
    pos_part = _log1p_sum_exp(-alpha * (s - base), pos.to(s.dtype), dim=1) / alpha
    neg_part = _log1p_sum_exp(beta * (s - base), neg.to(s.dtype), dim=1) / beta
    return (pos_part + neg_part).mean()


def _proxy_anchor_from_targets(
    embeddings: torch.Tensor, targets: torch.Tensor, proxies: torch.Tensor, alpha: float, margin: float
) -> torch.Tensor:
    s = F.normalize(embeddings, dim=1) @ F.normalize(proxies.to(embeddings.dtype), dim=1).T  # (K, C)
    y = targets.to(s.dtype)
    pos = _log1p_sum_exp(-alpha * (s - margin), y, dim=0)
    neg = _log1p_sum_exp(alpha * (s + margin), 1 - y, dim=0)
    n_with_pos = (y.sum(0) > 0).sum().clamp(min=1).to(s.dtype)
    return pos.sum() / n_with_pos + neg.sum() / proxies.shape[0]


def proxy_anchor_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    proxies: torch.Tensor,
    alpha: float = 32.0,
    margin: float = 0.1,
) -> torch.Tensor:
    r"""Proxy Anchor loss (Kim et al., CVPR 2020, "Proxy Anchor Loss for Deep Metric Learning").

    Proxies :math:`p_c` (one per class, ``(C, D)``) act as anchors; :math:`s` is the cosine similarity,
    :math:`P^+` the proxies whose class occurs in the batch and :math:`X_c^+` / :math:`X_c^-` the samples of class
    ``c`` / of another class:

    .. math::
        \mathcal{L} = \frac{1}{|P^+|}\sum_{c \in P^+} \log\Big(1 + \sum_{x \in X_c^+} e^{-\alpha(s(x,p_c) - m)}\Big)
            + \frac1C \sum_c \log\Big(1 + \sum_{x \in X_c^-} e^{\alpha(s(x,p_c) + m)}\Big)

    Defaults alpha 32, margin 0.1 are pytorch-metric-learning's; the result equals its ``ProxyAnchorLoss`` with
    the same proxies. ``labels`` are class indices in ``[0, C)``; the batch may hold a single class.
    """
    _check_labels(embeddings, labels, two_classes=False)
    _check_pa(alpha, margin)
    _check_proxies(proxies, embeddings.shape[1])
    c = proxies.shape[0]
    if int(labels.min()) < 0 or int(labels.max()) >= c:
        raise ValueError(f"labels must be class indices in [0, {c}), got range [{int(labels.min())}, "
                         f"{int(labels.max())}]")
    targets = F.one_hot(labels.to(embeddings.device).long(), c)
    return _proxy_anchor_from_targets(embeddings, targets, proxies, alpha, margin)


class ProxyAnchorProxies(nn.Module):
    """The learnable class proxies of Proxy Anchor, ``(num_classes, dim)``, initialised like
    pytorch-metric-learning's ``ProxyAnchorLoss`` (``kaiming_normal_(mode="fan_out")``).

    Calling it computes :func:`proxy_anchor_loss` with its proxies; pass ``module.proxies`` to
    :func:`metrix_proxy_anchor_loss` / :func:`metrix_loss`. Proxy Anchor trains proxies with a larger learning rate
    (the Metrix code: 100x the backbone's), so put them in their own optimiser parameter group.
    """

    def __init__(
        self,
        num_classes: int,
        dim: int,
        *,
        alpha: float = 32.0,
        margin: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 2 or dim < 1:
            raise ValueError(f"need num_classes >= 2 and dim >= 1, got {num_classes}, {dim}")
        _check_pa(alpha, margin)
        self.alpha, self.margin = alpha, margin
        self.proxies = nn.Parameter(torch.empty(num_classes, dim))
        nn.init.kaiming_normal_(self.proxies, mode="fan_out", generator=generator)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return proxy_anchor_loss(embeddings, labels, self.proxies, self.alpha, self.margin)


# ---------------------------------------------------------------------------------------------- mixing pairs
@dataclass(frozen=True)
class MetrixPairs:
    """Metrix mixing pairs of a batch, and what the mixed losses need.

    Row ``k`` is the mixed example :math:`v_k = \\lambda\\, x_{first[k]} + (1-\\lambda)\\, x_{second[k]}`,
    compared with the clean anchor ``anchor[k]``.

    Attributes:
        lam: the batch's mixing weight, a 0-dim float64 tensor.
        anchor: ``(K,)`` anchor index of each mixed example.
        first: ``(K,)`` index of the source of the same class as the anchor (a positive, or the anchor itself).
        second: ``(K,)`` index of the other source (a negative of the anchor).
        target: ``(K,)`` float64 interpolated label :math:`y = \\lambda [y_a = y_{first}] +
            (1-\\lambda)[y_a = y_{second}]` of the mixed example for its anchor (= ``lam`` for these schemes).
    """

    lam: torch.Tensor
    anchor: torch.Tensor
    first: torch.Tensor
    second: torch.Tensor
    target: torch.Tensor


def _sample_beta(alpha: float, generator: torch.Generator | None) -> torch.Tensor:
    return sample_lambda(1, alpha, dtype=torch.float64, generator=generator)[0]


def _expand_triples(
    pos: torch.Tensor, negsel: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All ``(a, p, n)`` with ``pos[a, p]`` and ``negsel[a, n]``, ordered by ``a``, then ``p``, then ``n``."""
    a1, p = pos.nonzero(as_tuple=True)
    counts = negsel.sum(1)
    starts = torch.cumsum(counts, 0) - counts  # where anchor a's negatives begin in negsel.nonzero()
    _, neg_flat = negsel.nonzero(as_tuple=True)
    reps = counts[a1]
    total = int(reps.sum())
    pair_of = torch.repeat_interleave(torch.arange(a1.shape[0], device=pos.device), reps)
    offset = torch.arange(total, device=pos.device) - (torch.cumsum(reps, 0) - reps)[pair_of]
    return a1[pair_of], p[pair_of], neg_flat[starts[a1][pair_of] + offset]


def metrix_pairs(
    labels: torch.Tensor,
    alpha: float = 2.0,
    *,
    scheme: Scheme = "both",
    lam: float | torch.Tensor | None = None,
    n_hardest: int | None = None,
    embeddings: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> MetrixPairs:
    r"""Metrix mixing pairs for a labelled batch (Venkataramanan et al., ICLR 2022; the authors' ``mixup/utils.py``).

    * positive-negative (``scheme="pos_neg"``): every anchor ``a`` with a positive in the batch gets one mixed
      example :math:`\lambda x_p + (1-\lambda) x_n` for each positive ``p`` and each negative ``n`` of ``a``,
      label :math:`y = \lambda`;
    * anchor-negative (``scheme="anchor_neg"``): every anchor without a positive gets
      :math:`\lambda x_a + (1-\lambda) x_n` for each negative ``n``, label :math:`y = \lambda`;
    * ``"both"`` (default): each anchor gets the pairs of the scheme that applies to it. The authors' code instead
      picks one of the two schemes at random each iteration (draw it yourself and pass it).

    One :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)` per batch (authors: alpha 2), drawn from ``generator``
    (CPU) or torch's global generator, unless ``lam`` is given. ``n_hardest`` keeps only each anchor's
    ``n_hardest`` nearest negatives by Euclidean distance of the normalised ``embeddings`` (the authors' input
    mixing uses 1); by default every negative is used (their embedding and feature mixing).

    The interpolated label is returned explicitly (``MetrixPairs.target``); :func:`metrix_class_targets` gives the
    soft class labels, :func:`metrix_mix` the mixed tensors. Raises ``ValueError`` if the scheme yields no pair
    (``"both"`` always yields pairs when the batch has two classes).
    """
    if labels.ndim != 1 or labels.is_floating_point() or labels.is_complex():
        raise ValueError(f"labels must be an integer (B,) tensor, got {labels.dtype} {tuple(labels.shape)}")
    if torch.unique(labels).numel() < 2:
        raise ValueError("labels need at least two classes in the batch (Metrix mixes with negatives)")
    if scheme not in ("both", "pos_neg", "anchor_neg"):
        raise ValueError(f"scheme must be 'both', 'pos_neg' or 'anchor_neg', got {scheme!r}")
    _check_positive("Metrix mixup alpha", alpha)
    if lam is None:
        lam_t = _sample_beta(alpha, generator)
    else:
        lam_t = torch.as_tensor(lam, dtype=torch.float64).detach().cpu().reshape(())
        if not 0.0 <= float(lam_t) <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {float(lam_t)}")
    device = labels.device
    pos, neg = _pair_masks(labels)
    if n_hardest is not None:
        if n_hardest < 1:
            raise ValueError(f"n_hardest must be >= 1, got {n_hardest}")
        if embeddings is None or embeddings.ndim != 2 or embeddings.shape[0] != labels.shape[0]:
            raise ValueError(f"n_hardest needs embeddings of shape ({labels.shape[0]}, D)")
        with torch.no_grad():
            z = F.normalize(embeddings.detach(), dim=1)
            d = torch.cdist(z, z).to(device).masked_fill(~neg, float("inf"))
            order = d.argsort(dim=1, stable=True)
            rank = torch.empty_like(order).scatter_(1, order, torch.arange(d.shape[1], device=device).expand_as(order))
        neg = neg & (rank < n_hardest)
    has_pos = pos.any(1)
    parts = []
    if scheme in ("both", "pos_neg"):
        parts.append(_expand_triples(pos, neg & has_pos[:, None]))
    if scheme in ("both", "anchor_neg"):
        a2, n = (neg & ~has_pos[:, None]).nonzero(as_tuple=True)
        parts.append((a2, a2, n))
    anchor, first, second = (torch.cat(t) for t in zip(*parts))
    if anchor.numel() == 0:
        why = "no anchor has a positive" if scheme == "pos_neg" else "every anchor has a positive"
        raise ValueError(f"scheme {scheme!r} gives no mixing pair for this batch ({why}); use scheme='both'")
    la, lf, ls = labels[anchor], labels[first], labels[second]
    lam_d = lam_t.to(device)
    target = lam_d * (la == lf).double() + (1 - lam_d) * (la == ls).double()
    return MetrixPairs(lam=lam_d, anchor=anchor, first=first, second=second, target=target)


def metrix_mix(x: torch.Tensor, pairs: MetrixPairs) -> torch.Tensor:
    r"""Mix any batch tensor along the Metrix pairs: row ``k`` is :math:`\lambda\, x_{first[k]} +
    (1-\lambda)\, x_{second[k]}`, shape ``(K, *x.shape[1:])``.

    ``x`` may be the input images, an intermediate feature map (the paper's default "Metrix/feature": the authors
    mix ResNet-50's layer4 output, then pool and embed) or the embeddings ("Metrix/embed"); its first dimension is
    the batch. Pass the embedding of the result to the ``metrix_*_loss`` functions as ``mixed``.
    """
    if x.ndim < 1 or (pairs.anchor.numel() and int(torch.maximum(pairs.first, pairs.second).max()) >= x.shape[0]):
        raise ValueError(f"x must be a batch tensor with more rows than the largest pair index, got {tuple(x.shape)}")
    w = pairs.lam.to(device=x.device, dtype=x.dtype)
    return w * x[pairs.first.to(x.device)] + (1 - w) * x[pairs.second.to(x.device)]


def metrix_class_targets(pairs: MetrixPairs, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    r"""Soft class labels of the mixed examples, ``(K, C)``: :math:`\lambda\, e_{y_{first}} + (1-\lambda)\,
    e_{y_{second}}` (what a proxy-based loss sees, each proxy acting as an anchor)."""
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(f"labels must be class indices in [0, {num_classes})")
    lam = pairs.lam.to(device=labels.device)
    y1 = F.one_hot(labels[pairs.first].long(), num_classes).double()
    y2 = F.one_hot(labels[pairs.second].long(), num_classes).double()
    return lam * y1 + (1 - lam) * y2


# ------------------------------------------------------------------------------------------ mixed losses
def metrix_contrastive_loss(
    anchors: torch.Tensor,
    mixed: torch.Tensor,
    pairs: MetrixPairs,
    pos_margin: float = 0.0,
    neg_margin: float = 0.5,
) -> torch.Tensor:
    r"""Metrix mixed term for the contrastive loss (Venkataramanan et al., ICLR 2022).

    ``anchors`` are the clean embeddings of the batch, ``mixed[k]`` the embedding of mixed example ``k`` of
    ``pairs`` (from :func:`metrix_mix` at the input, a feature or the embedding), :math:`d_k` the Euclidean
    distance between the normalised ``anchors[pairs.anchor[k]]`` and ``mixed[k]``, :math:`y_k` = ``pairs.target``:

    .. math::
        \tilde{\mathcal{L}} = \operatorname{avg}_{\neq 0}\{y_k [d_k - m^+]_+\}_k
            + \operatorname{avg}_{\neq 0}\{(1-y_k) [m^- - d_k]_+\}_k

    as the authors' code (each part averaged over its non-zero terms). ``y = 1`` (``lam = 1`` under
    positive-negative mixing) leaves the clean loss's positive part on the pairs ``(a, p)``, ``y = 0`` its
    negative part on ``(a, n)``.
    """
    _check_mixed(anchors, mixed, pairs)
    _check_contrastive_margins(pos_margin, neg_margin)
    a = F.normalize(anchors, dim=1)[pairs.anchor.to(anchors.device)]
    d = torch.linalg.vector_norm(a - F.normalize(mixed, dim=1), dim=1)
    y = pairs.target.to(device=d.device, dtype=d.dtype)
    return _avg_nonzero(y * F.relu(d - pos_margin)) + _avg_nonzero((1 - y) * F.relu(neg_margin - d))


def metrix_multi_similarity_loss(
    anchors: torch.Tensor,
    mixed: torch.Tensor,
    pairs: MetrixPairs,
    alpha: float = 2.0,
    beta: float = 50.0,
    base: float = 0.5,
) -> torch.Tensor:
    r"""Metrix mixed term for the multi-similarity loss, from the soft-label formulation (Venkataramanan et al.,
    ICLR 2022, with the pytorch-metric-learning MS form). With :math:`V(a)` the mixed examples of anchor ``a``,
    :math:`s` cosine similarity and :math:`y` = ``pairs.target``:

    .. math::
        \tilde{\mathcal{L}} = \frac1B \sum_a \frac1\alpha \log\Big(1 + \sum_{v \in V(a)} y_v e^{-\alpha(s(a,v) - b)}
            \Big) + \frac1\beta \log\Big(1 + \sum_{v \in V(a)} (1 - y_v) e^{\beta(s(a,v) - b)}\Big)

    averaged over all ``B`` anchors (an anchor without mixed examples contributes 0, as pytorch-metric-learning
    averages an MS loss over every row). The authors only have an embedding-level variant that folds the mixed sum
    into the clean one; this is the separate mixed term of the paper's formulation.
    """
    _check_mixed(anchors, mixed, pairs)
    _check_ms(alpha, beta, base)
    idx = pairs.anchor.to(anchors.device)
    s = (F.normalize(anchors, dim=1)[idx] * F.normalize(mixed, dim=1)).sum(1)
    y = pairs.target.to(device=s.device, dtype=s.dtype)
    b = anchors.shape[0]
    pos_part = _segment_log1p_sum_exp(-alpha * (s - base), y, idx, b) / alpha
    neg_part = _segment_log1p_sum_exp(beta * (s - base), 1 - y, idx, b) / beta
    return (pos_part + neg_part).mean()


def metrix_proxy_anchor_loss(
    mixed: torch.Tensor,
    pairs: MetrixPairs,
    labels: torch.Tensor,
    proxies: torch.Tensor,
    alpha: float = 32.0,
    margin: float = 0.1,
) -> torch.Tensor:
    r"""Metrix mixed term for Proxy Anchor, from the soft-label formulation (Venkataramanan et al., ICLR 2022;
    the authors published no Proxy Anchor Metrix code).

    Each proxy :math:`p_c` is an anchor; mixed example :math:`v` has label :math:`y_c(v) = \lambda [y_{first} = c]
    + (1-\lambda)[y_{second} = c]` for it (:func:`metrix_class_targets`; ``labels`` are the batch's classes):

    .. math::
        \tilde{\mathcal{L}} = \frac{1}{|P^+|}\sum_{c} \log\Big(1 + \sum_v y_c(v)\, e^{-\alpha(s(v,p_c) - m)}\Big)
            + \frac1C \sum_c \log\Big(1 + \sum_v (1-y_c(v))\, e^{\alpha(s(v,p_c) + m)}\Big)

    with :math:`P^+` the proxies with some :math:`y_c(v) > 0`. ``lam = 1`` is :func:`proxy_anchor_loss` on the
    ``first`` sources with their labels, ``lam = 0`` on the ``second`` ones.
    """
    if pairs.anchor.numel() and int(torch.maximum(pairs.first, pairs.second).max()) >= labels.shape[0]:
        raise ValueError("pairs index samples beyond labels")
    _check_embeddings("mixed", mixed)
    if mixed.shape[0] != pairs.anchor.shape[0]:
        raise ValueError(f"mixed must have one row per mixing pair ({pairs.anchor.shape[0]}), got {mixed.shape[0]}")
    _check_pa(alpha, margin)
    _check_proxies(proxies, mixed.shape[1])
    targets = metrix_class_targets(pairs, labels.to(mixed.device), proxies.shape[0])
    return _proxy_anchor_from_targets(mixed, targets, proxies, alpha, margin)


# --------------------------------------------------------------------------------------------- total loss
def metrix_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    loss: MetricLoss = "contrastive",
    *,
    weight: float = 0.4,
    mix_alpha: float = 2.0,
    scheme: Scheme = "both",
    pairs: MetrixPairs | None = None,
    mixed: torch.Tensor | None = None,
    proxies: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    **loss_kwargs: float,
) -> torch.Tensor:
    r"""Metrix total loss (Venkataramanan et al., ICLR 2022): :math:`\mathcal{L} + w\,\tilde{\mathcal{L}}`.

    ``loss`` picks the clean loss and its mixed term (:func:`contrastive_loss` / :func:`metrix_contrastive_loss`,
    :func:`multi_similarity_loss` / :func:`metrix_multi_similarity_loss`, :func:`proxy_anchor_loss` /
    :func:`metrix_proxy_anchor_loss`, which needs ``proxies``); ``loss_kwargs`` (margins, alpha/beta/base, ...) go
    to both. Authors' settings: ``mix_alpha = 2`` for :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)`,
    ``weight = 0.4``.

    * Embedding mixing (``mixed=None``): ``pairs`` (default :func:`metrix_pairs` with ``scheme``, ``mix_alpha``,
      ``generator``) mix the L2-normalised ``embeddings``, as the authors' network outputs normalised embeddings.
    * Input or feature mixing: pass ``pairs`` and ``mixed``, the embeddings of ``metrix_mix(inputs_or_features,
      pairs)`` pushed through the rest of the network.
    """
    if weight < 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    if loss not in ("contrastive", "multi_similarity", "proxy_anchor"):
        raise ValueError(f"loss must be 'contrastive', 'multi_similarity' or 'proxy_anchor', got {loss!r}")
    if mixed is not None and pairs is None:
        raise ValueError("mixed embeddings need the pairs they were mixed with")
    if loss == "proxy_anchor" and proxies is None:
        raise ValueError("loss='proxy_anchor' needs proxies (e.g. ProxyAnchorProxies(C, D).proxies)")
    _check_labels(embeddings, labels)
    if pairs is None:
        pairs = metrix_pairs(labels, mix_alpha, scheme=scheme, generator=generator)
    if mixed is None:
        mixed = metrix_mix(F.normalize(embeddings, dim=1), pairs)
    if loss == "contrastive":
        clean = contrastive_loss(embeddings, labels, **loss_kwargs)
        mixed_term = metrix_contrastive_loss(embeddings, mixed, pairs, **loss_kwargs)
    elif loss == "multi_similarity":
        clean = multi_similarity_loss(embeddings, labels, **loss_kwargs)
        mixed_term = metrix_multi_similarity_loss(embeddings, mixed, pairs, **loss_kwargs)
    else:
        assert proxies is not None
        clean = proxy_anchor_loss(embeddings, labels, proxies, **loss_kwargs)
        mixed_term = metrix_proxy_anchor_loss(mixed, pairs, labels, proxies, **loss_kwargs)
    return clean + weight * mixed_term


# ----------------------------------------------------------------------------------------------- utilization
@torch.no_grad()
def metrix_utilization(queries: torch.Tensor, references: torch.Tensor, *, chunk_size: int = 1024) -> torch.Tensor:
    r"""Utilization (Venkataramanan et al., ICLR 2022): mean squared distance from each query embedding to its
    nearest reference embedding,

    .. math::
        u(Q, X) = \frac{1}{|Q|} \sum_{q \in Q} \min_{x \in X} \lVert f(q) - f(x) \rVert^2

    ``queries`` are :math:`f(Q)` (the test set), ``references`` :math:`f(X)` (training examples, clean and/or
    mixed), both ``(N, D)`` and used as given (normalise them first if retrieval uses cosine). Lower means the
    training set has examples closer to the test examples. Computed in chunks of ``chunk_size`` queries.
    """
    _check_embeddings("queries", queries)
    _check_embeddings("references", references)
    if queries.shape[1] != references.shape[1]:
        raise ValueError(f"queries and references need the same D, got {queries.shape[1]} and {references.shape[1]}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    refs = references.to(queries.dtype)
    total = torch.zeros((), dtype=torch.float64, device=queries.device)
    for q in queries.split(chunk_size):
        total += torch.cdist(q, refs).amin(dim=1).double().pow(2).sum()
    return (total / queries.shape[0]).to(queries.dtype)
