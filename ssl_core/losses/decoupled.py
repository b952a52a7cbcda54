"""Decoupled Mixup (Liu et al., 2022, "Decoupled Mixup for Data-efficient Learning", arXiv 2203.10761; NeurIPS 2023
"Harnessing Hard Mixed Samples with Decoupled Regularizer")."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["mixup_cross_entropy", "decoupled_mixup_loss"]


def _check(logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: torch.Tensor) -> None:
    if logits.ndim != 2:
        raise ValueError(f"logits must be (B, C), got {tuple(logits.shape)}")
    b = logits.shape[0]
    for name, t in (("y_a", y_a), ("y_b", y_b), ("lam", lam)):
        if t.shape != (b,):
            raise ValueError(f"{name} must have shape ({b},), got {tuple(t.shape)}")
    if bool(((lam < 0) | (lam > 1)).any()):
        raise ValueError("lam must be in [0, 1]")


def mixup_cross_entropy(logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    r"""Mixup cross-entropy (Zhang et al., 2018):
    :math:`-\frac1B \sum_i [\lambda_i \log p_i(a_i) + (1 - \lambda_i) \log p_i(b_i)]`, :math:`p = \mathrm{softmax}`."""
    _check(logits, y_a, y_b, lam)
    logp = F.log_softmax(logits, dim=1)
    lam = lam.to(logp.dtype)
    la, lb = logp.gather(1, y_a[:, None]).squeeze(1), logp.gather(1, y_b[:, None]).squeeze(1)
    return -(lam * la + (1 - lam) * lb).mean()


def decoupled_mixup_loss(
    logits: torch.Tensor,
    y_a: torch.Tensor,
    y_b: torch.Tensor,
    lam: torch.Tensor,
    eta: float = 0.1,
) -> torch.Tensor:
    r"""Decoupled Mixup loss (Liu et al., 2022): mixup cross-entropy plus a decoupled regulariser.

    The mixed sample ``i`` holds classes :math:`a_i` and :math:`b_i`. The decoupled softmax scores each of them
    against every class *except the other mixed one*, so the two targets do not compete and a hard mixed sample
    is pushed to recognise both:

    .. math::
        \phi(z)_{a} = \frac{e^{z_a}}{\sum_{c \ne b} e^{z_c}},\qquad
        \phi(z)_{b} = \frac{e^{z_b}}{\sum_{c \ne a} e^{z_c}}

    .. math::
        \mathcal{L} = \mathcal{L}_{MCE} - \frac{\eta}{B} \sum_{i:\ a_i \ne b_i,\ 0 < \lambda_i < 1}
            \big[\log \phi(z_i)_{a_i} + \log \phi(z_i)_{b_i}\big]

    Rows with :math:`a_i = b_i` or :math:`\lambda_i \in \{0, 1\}` carry one label and get only the mixup
    cross-entropy (as in the authors' implementation), so ``lam`` in ``{0, 1}`` reduces to plain cross-entropy.
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    loss = mixup_cross_entropy(logits, y_a, y_b, lam)
    ninf = torch.tensor(float("-inf"), dtype=logits.dtype, device=logits.device)
    rows = torch.arange(logits.shape[0], device=logits.device)
    without_b = logits.index_put((rows, y_b), ninf)
    without_a = logits.index_put((rows, y_a), ninf)
    la = F.log_softmax(without_b, dim=1).gather(1, y_a[:, None]).squeeze(1)
    lb = F.log_softmax(without_a, dim=1).gather(1, y_b[:, None]).squeeze(1)
    active = (y_a != y_b) & (lam > 0) & (lam < 1)
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    reg = torch.where(active, -(la + lb), zero).sum() / logits.shape[0]
    return loss + eta * reg
