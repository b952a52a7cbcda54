"""Barlow Twins (Zbontar et al., ICML 2021) and Mixed Barlow Twins (Bandara et al., 2023, "Guarding Barlow Twins
Against Overfitting with Mixed Samples", arXiv 2312.02151)."""

from __future__ import annotations

import torch

__all__ = ["standardize", "cross_correlation", "barlow_twins_loss", "mixed_barlow_twins_loss"]


def standardize(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Standardise every feature over the batch: ``(z - mean) / (std + eps)`` (unbiased std, as Mixed BT)."""
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"z must be (B, D) with B >= 2, got {tuple(z.shape)}")
    return (z - z.mean(0)) / (z.std(0) + eps)


def cross_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Empirical cross-correlation of already standardised batches: :math:`C = a^\top b / B` (``D x D``)."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must both be (B, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    return a.T @ b / a.shape[0]


def _bt(c: torch.Tensor, lambda_offdiag: float) -> torch.Tensor:
    diag = torch.diagonal(c)
    on = (diag - 1).pow(2).sum()
    off = c.pow(2).sum() - diag.pow(2).sum()
    return on + lambda_offdiag * off


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambda_offdiag: float = 5e-3) -> torch.Tensor:
    r"""Barlow Twins (Zbontar et al., 2021) on two views; :math:`C` is the cross-correlation of the standardised
    embeddings:

    .. math::
        \mathcal{L}_{BT} = \sum_i (1 - C_{ii})^2 + \lambda \sum_i \sum_{j \ne i} C_{ij}^2
    """
    if lambda_offdiag < 0:
        raise ValueError(f"lambda_offdiag must be >= 0, got {lambda_offdiag}")
    return _bt(cross_correlation(standardize(z1), standardize(z2)), lambda_offdiag)


def mixed_barlow_twins_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    z_mixed: torch.Tensor,
    lam: torch.Tensor | float,
    perm: torch.Tensor,
    lambda_offdiag: float = 5e-3,
    mix_scale: float = 1.0,
) -> torch.Tensor:
    r"""Mixed Barlow Twins (Bandara et al., 2023): Barlow Twins plus a mixed-sample regulariser.

    ``z_mixed`` embeds the mixed input :math:`x^M_n = \lambda_n x^A_n + (1 - \lambda_n) x^B_{\pi(n)}` (view A
    mixed with the shuffled view B). If the encoder were linear, its cross-correlation with each view would be
    the same mix of the views' cross-correlations; the regulariser asks for that. With :math:`\hat z`
    standardised embeddings and :math:`C(a, b) = a^\top b / B`:

    .. math::
        C^{MA}_{gt} = C(\lambda \hat z^A + (1-\lambda) \hat z^B_\pi, \hat z^A), \quad
        C^{MB}_{gt} = C(\lambda \hat z^A + (1-\lambda) \hat z^B_\pi, \hat z^B)

    .. math::
        \mathcal{L} = \mathcal{L}_{BT} + \gamma \lambda_{BT} \big( \lVert C(\hat z^M, \hat z^A) - C^{MA}_{gt}
            \rVert_F^2 + \lVert C(\hat z^M, \hat z^B) - C^{MB}_{gt} \rVert_F^2 \big)

    with :math:`\gamma` = ``mix_scale`` and :math:`\lambda_{BT}` = ``lambda_offdiag`` (the authors' scaling).
    ``lam`` is a scalar (the paper's one draw per batch) or ``(B,)``; for a scalar the ground truth is exactly
    :math:`\lambda C(\hat z^A, \hat z^A) + (1-\lambda) C(\hat z^B_\pi, \hat z^A)`. Memory is ``D x D``.
    """
    if mix_scale < 0:
        raise ValueError(f"mix_scale must be >= 0, got {mix_scale}")
    if z_mixed.shape != z1.shape:
        raise ValueError(f"z_mixed must have the shape of z1 {tuple(z1.shape)}, got {tuple(z_mixed.shape)}")
    a, b, m = standardize(z1), standardize(z2), standardize(z_mixed)
    loss = barlow_twins_loss(z1, z2, lambda_offdiag)
    lam_t = torch.as_tensor(lam, dtype=a.dtype, device=a.device)
    if lam_t.ndim == 0:
        lam_t = lam_t.expand(a.shape[0])
    if perm.shape != (a.shape[0],):
        raise ValueError(f"perm must have shape ({a.shape[0]},), got {tuple(perm.shape)}")
    # mix(b, ...) would pair b with itself: build lam * a + (1 - lam) * b[perm] explicitly.
    w = lam_t[:, None]
    mixed_gt = w * a + (1 - w) * b[perm.to(a.device)]
    reg = (cross_correlation(m, a) - cross_correlation(mixed_gt, a)).pow(2).sum() + (
        cross_correlation(m, b) - cross_correlation(mixed_gt, b)
    ).pow(2).sum()
    return loss + mix_scale * lambda_offdiag * reg


