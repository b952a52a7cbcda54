"""i-Mix (Lee et al., ICLR 2021, "i-Mix: A Domain-Agnostic Strategy for Contrastive Representation Learning") and
the MI-Mix variant of DNABERT-S (Zhou et al., 2024, "DNABERT-S: Pioneering Species Differentiation with
Species-Aware DNA Embeddings"), where the anchors' hidden states are mixed at a random layer
(:func:`ssl_core.manifold_mixup`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses.infonce import check_temperature, soft_target_cross_entropy
from ssl_core.losses.m3co import mixup_targets

__all__ = ["i_mix_loss"]


def i_mix_loss(
    mixed: torch.Tensor,
    keys: torch.Tensor,
    lam: torch.Tensor,
    perm: torch.Tensor,
    temperature: float = 0.2,
    *,
    mixed_negatives: bool = False,
) -> torch.Tensor:
    r"""i-Mix / MI-Mix contrastive loss with virtual instance labels mixed like the inputs.

    ``mixed[i]`` embeds :math:`\lambda_i x_i + (1-\lambda_i) x_{\pi(i)}` (input or hidden-state mixing); ``keys[j]``
    is the positive (other view) of sample ``j`` for ``j < B``, extra rows are plain negatives (e.g. a queue).
    The target of row ``i`` puts :math:`\lambda_i` on key ``i`` and :math:`1-\lambda_i` on key :math:`\pi(i)`,
    the mixing proportions over the positives of both sources. With :math:`s = \cos / \tau`:

    .. math::
        \mathcal{L} = -\frac1B \sum_i \Big[\lambda_i \log \frac{e^{s(\tilde z_i, k_i)}}{Z_i}
            + (1-\lambda_i) \log \frac{e^{s(\tilde z_i, k_{\pi(i)})}}{Z_i}\Big],\quad
        Z_i = \sum_j e^{s(\tilde z_i, k_j)} \;\Big[+ \sum_{j \ne i} e^{s(\tilde z_i, \tilde z_j)}\Big]

    The bracketed term (``mixed_negatives=True``) also uses the other mixed anchors as negatives, as DNABERT-S's
    MI-Mix does. ``lam = 1`` reduces to InfoNCE.
    """
    check_temperature(temperature)
    if mixed.ndim != 2 or keys.ndim != 2 or keys.shape[1] != mixed.shape[1] or keys.shape[0] < mixed.shape[0]:
        raise ValueError(f"mixed must be (B, D) and keys (N >= B, D), got {tuple(mixed.shape)} and {tuple(keys.shape)}")
    b = mixed.shape[0]
    if lam.shape != (b,) or perm.shape != (b,):
        raise ValueError(f"lam and perm must have shape ({b},)")
    m = F.normalize(mixed, dim=-1)
    logits = m @ F.normalize(keys, dim=-1).T / temperature
    targets = mixup_targets(lam.to(device=logits.device, dtype=logits.dtype), perm.to(logits.device), keys.shape[0])
    if mixed_negatives:
        self_logits = (m @ m.T / temperature).masked_fill(
            torch.eye(b, dtype=torch.bool, device=m.device), float("-inf")
        )
        logits = torch.cat([logits, self_logits], dim=1)
        targets = torch.cat([targets, torch.zeros(b, b, dtype=targets.dtype, device=targets.device)], dim=1)
        logp = F.log_softmax(logits, dim=1).masked_fill(targets == 0, 0.0)
        return -(targets * logp).sum(1).mean()
    return soft_target_cross_entropy(logits, targets)
