"""Semi-supervised classification losses: MixMatch (Berthelot et al., 2019, arXiv 1905.02249) and FixMatch
(Sohn et al., 2020, arXiv 2001.07685), as pure functions of logits and targets.

- :func:`sharpen`: ``p_j^(1/T) / sum_k p_k^(1/T)``, MixMatch's temperature sharpening of the averaged label guess.
- :func:`mixmatch_loss`: ``(L_X, L_U)`` with ``L_X`` the soft-target cross-entropy on the mixed labelled batch and
  ``L_U = 1/(|U'| L) sum ||q - softmax(logits_u)||^2`` the squared L2 loss on the mixed unlabelled batch (``L``
  classes); the caller weights ``L_U`` by ``lambda_u * linear_rampup(step)``.
- :func:`pseudo_labels`: FixMatch's hard pseudo-labels ``argmax p`` and confidence mask ``max p >= tau`` from the
  weakly augmented view (no gradient).
- :func:`balanced_pseudo_labels`: offline self-training's selection: per predicted class the ``k`` unlabelled
  samples predicted most confidently, so that a class the teacher over-predicts cannot flood the student's training
  set (``k = round(fraction * N / C)``).
- :func:`masked_soft_cross_entropy`: ``1/B sum_i w_i * CE(targets_i, logits_i)``: the FixMatch unlabelled loss
  (one-hot targets, mask weights; the mean is over the whole unlabelled batch, as in the paper, so few confident
  samples mean a small loss) and its mixup variant (mixed soft targets and mixed weights).
- :func:`fixmatch_loss`: pseudo-labels from the weak logits, cross-entropy of the strong logits on the confident ones.
- :func:`mixed_pseudo_label_loss`: FixMatch's unlabelled loss on mixed strong views ``lam_i s_i + (1 - lam_i)
  s_perm(i)``: the mixup loss ``lam_i CE(y_i) + (1 - lam_i) CE(y_perm(i))`` split into its two terms, each term
  masked by the confidence of its own pseudo-label (an unconfident partner contributes nothing, not even through a
  mixed target).
- :func:`distribution_alignment`: ReMixMatch's (Berthelot et al., 2020, arXiv 1911.09785) alignment of the weak-view
  prediction, ``p~ = normalise(p * prior / p_model)`` with ``prior`` the labelled class distribution and
  ``p_model`` the running mean of the model's predictions on unlabelled data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses.infonce import soft_target_cross_entropy

__all__ = ["sharpen", "linear_rampup", "mixmatch_loss", "pseudo_labels", "masked_soft_cross_entropy", "fixmatch_loss",
           "mixed_pseudo_label_loss", "distribution_alignment", "balanced_pseudo_labels"]


def sharpen(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """MixMatch sharpening of class distributions (rows): ``p^(1/T)`` renormalised; ``T -> 0`` gives one-hot.

    Computed in log space (``softmax(log p / T)``) so small temperatures do not underflow.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return torch.softmax(torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny)) / temperature, dim=-1)


def linear_rampup(step: int, rampup_steps: int) -> float:
    """``min(1, step / rampup_steps)`` (1 when ``rampup_steps`` is 0): MixMatch's ramp-up of ``lambda_u``."""
    if rampup_steps <= 0:
        return 1.0
    return float(min(1.0, max(0.0, step / rampup_steps)))


def mixmatch_loss(
    logits_x: torch.Tensor,
    targets_x: torch.Tensor,
    logits_u: torch.Tensor,
    targets_u: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MixMatch's two terms ``(L_X, L_U)`` on the mixed batches (targets are probability rows).

    ``L_X = -1/|X'| sum_i sum_j q_ij log softmax(logits_x)_ij``;
    ``L_U = 1/(|U'| L) sum_i ||q_i - softmax(logits_u)_i||^2``.
    """
    if logits_x.shape != targets_x.shape or logits_u.shape != targets_u.shape:
        raise ValueError(f"logits and targets must have the same shapes, got {tuple(logits_x.shape)} / "
                         f"{tuple(targets_x.shape)} and {tuple(logits_u.shape)} / {tuple(targets_u.shape)}")
    loss_x = soft_target_cross_entropy(logits_x, targets_x)
    loss_u = F.mse_loss(torch.softmax(logits_u, dim=-1), targets_u)
    return loss_x, loss_u


@torch.no_grad()
def pseudo_labels(logits_weak: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(argmax p, mask)`` with ``p = softmax(logits_weak)`` and ``mask = (max p >= threshold)`` as float."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    probs = torch.softmax(logits_weak.detach(), dim=-1)
    conf, labels = probs.max(dim=-1)
    return labels, (conf >= threshold).to(logits_weak.dtype)


def balanced_pseudo_labels(probs: torch.Tensor, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rows, labels)``: for each class ``c`` the (at most) ``k = round(fraction * N / C)`` rows of ``probs``
    ``[N, C]`` whose argmax is ``c`` with the highest ``max p``, most confident first within a class, classes in
    order; ``labels`` their argmax. Fewer rows for a class the teacher predicts fewer than ``k`` times."""
    if probs.ndim != 2:
        raise ValueError(f"probs must be [N, C], got shape {tuple(probs.shape)}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    n, c = probs.shape
    k = int(round(fraction * n / c))
    conf, pred = probs.detach().max(dim=1)
    rows = []
    for cls in range(c):
        members = torch.nonzero(pred == cls).flatten()
        rows.append(members[conf[members].argsort(descending=True, stable=True)][:k])
    rows_t = torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long)
    return rows_t, pred[rows_t]


def masked_soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``1/B sum_i weights_i * (-sum_j targets_ij log softmax(logits)_ij)`` (mean over all rows, masked or not)."""
    if logits.shape != targets.shape or weights.shape != logits.shape[:1]:
        raise ValueError(f"need logits and targets (B, C) and weights (B,), got {tuple(logits.shape)}, "
                         f"{tuple(targets.shape)}, {tuple(weights.shape)}")
    per_row = -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1)
    return (weights.to(per_row.dtype) * per_row).mean()


def fixmatch_loss(logits_weak: torch.Tensor, logits_strong: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """FixMatch unlabelled loss ``1/mu B sum_b 1[max p_b >= tau] H(argmax p_b, softmax(logits_strong_b))``.

    Returns ``(loss, mask)``; no gradient flows through the weak logits.
    """
    if logits_weak.shape != logits_strong.shape:
        raise ValueError(f"weak and strong logits differ in shape: {tuple(logits_weak.shape)} vs {tuple(logits_strong.shape)}")
    labels, mask = pseudo_labels(logits_weak, threshold)
    targets = F.one_hot(labels, logits_strong.shape[-1]).to(logits_strong.dtype)
    return masked_soft_cross_entropy(logits_strong, targets, mask), mask


def mixed_pseudo_label_loss(logits_mixed: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                            lam: torch.Tensor, perm: torch.Tensor, partner_labels: torch.Tensor | None = None,
                            partner_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``1/B sum_i [lam_i m_i H(y_i, p_i) + (1 - lam_i) m_perm(i) H(y_perm(i), p_i)]``, ``p = softmax(logits_mixed)``.

    ``logits_mixed`` are the model's outputs on the mixed strong views ``lam_i s_i + (1 - lam_i) s_perm(i)``,
    ``labels`` / ``mask`` the hard pseudo-labels and confidence masks of the unmixed rows (:func:`pseudo_labels`).
    With every mask 1 this is the usual mixup cross-entropy against ``lam_i y_i + (1 - lam_i) y_perm(i)``.
    ``partner_labels`` / ``partner_mask`` (default: ``labels`` / ``mask``): the rows ``perm`` indexes into when
    the partners are other clips, e.g. labelled clips with their true labels and mask 1.
    """
    n = logits_mixed.shape[0]
    if labels.shape != (n,) or mask.shape != (n,) or lam.shape != (n,) or perm.shape != (n,):
        raise ValueError(f"need logits (B, C) and labels, mask, lam, perm (B,), got {tuple(logits_mixed.shape)}, "
                         f"{tuple(labels.shape)}, {tuple(mask.shape)}, {tuple(lam.shape)}, {tuple(perm.shape)}")
    partner_labels = labels if partner_labels is None else partner_labels
    partner_mask = mask if partner_mask is None else partner_mask
    if partner_labels.shape != partner_mask.shape or partner_labels.dim() != 1:
        raise ValueError(f"partner labels and mask must be (M,), got {tuple(partner_labels.shape)}, {tuple(partner_mask.shape)}")
    logp = F.log_softmax(logits_mixed, dim=-1)
    own = -logp.gather(1, labels[:, None]).squeeze(1)
    partner = -logp.gather(1, partner_labels[perm][:, None]).squeeze(1)
    lam = lam.to(logp.dtype)
    mask = mask.to(logp.dtype)
    return (lam * mask * own + (1 - lam) * partner_mask[perm].to(logp.dtype) * partner).mean()


@torch.no_grad()
def distribution_alignment(probs: torch.Tensor, prior: torch.Tensor, model_mean: torch.Tensor) -> torch.Tensor:
    """``p~_ij = p_ij prior_j / model_mean_j / sum_k (p_ik prior_k / model_mean_k)`` for ``probs`` (B, C); no gradient."""
    if probs.dim() != 2 or prior.shape != probs.shape[1:] or model_mean.shape != probs.shape[1:]:
        raise ValueError(f"need probs (B, C), prior (C,), model_mean (C,), got {tuple(probs.shape)}, "
                         f"{tuple(prior.shape)}, {tuple(model_mean.shape)}")
    tiny = torch.finfo(probs.dtype).tiny
    scaled = probs.detach() * prior / model_mean.clamp_min(tiny)
    return scaled / scaled.sum(dim=-1, keepdim=True).clamp_min(tiny)
