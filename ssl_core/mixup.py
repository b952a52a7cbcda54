"""Mixup primitives shared by every pipeline.

Mixup (Zhang et al., 2018) and its contrastive descendants (MixCo, i-Mix, M3CoL, MI-Mix) all do the same three
things: draw a mixing coefficient ``lam ~ Beta(alpha, alpha)``, pair every sample ``i`` with a partner
``perm[i]`` from a random permutation of the batch, and form ``lam * x[i] + (1 - lam) * x[perm[i]]``.
The losses then need ``lam`` and ``perm`` to build their soft targets, so both are returned explicitly instead of
being hidden inside a module.

Everything here works on any device and floating dtype: random numbers are drawn on the CPU from torch's global
generator (so a seed gives the same pairs on CPU and GPU) and moved to the tensor's device and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["MixupBatch", "sample_lambda", "sample_permutation", "mix", "mixup"]


@dataclass(frozen=True)
class MixupBatch:
    """A mixed batch and what is needed to build its targets.

    Attributes:
        mixed: ``lam[i] * x[i] + (1 - lam[i]) * x[perm[i]]``, same shape, dtype and device as the input.
        lam: per-sample weight of the sample itself, shape ``(B,)``; 1 where a sample was left unmixed.
        perm: index of each sample's partner, shape ``(B,)``, a permutation of ``range(B)``.
    """

    mixed: torch.Tensor
    lam: torch.Tensor
    perm: torch.Tensor


def sample_lambda(
    n: int,
    alpha: float,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw ``n`` mixing weights from ``Beta(alpha, alpha)``.

    Small ``alpha`` (e.g. 0.15, the M3CoL default) puts most mass near 0 and 1, i.e. mild mixing; ``alpha = 1``
    is uniform. Draws come from torch's global CPU generator (seed it with ``lightning.seed_everything`` or
    ``torch.manual_seed``), so a seed gives the same weights whatever the device; or from ``generator`` (a CPU
    ``torch.Generator``) when given.
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if generator is not None:
        # Beta(a, a) is the first coordinate of Dirichlet(a, a), whose sampler takes a generator (Beta's does not)
        conc = torch.full((n, 2), float(alpha), dtype=torch.float64)
        return torch._sample_dirichlet(conc, generator=generator)[:, 0].to(device=device, dtype=dtype)
    conc = torch.tensor(float(alpha), dtype=torch.float64)
    lam = torch.distributions.Beta(conc, conc).sample((n,))
    return lam.to(device=device, dtype=dtype)


def sample_permutation(n: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """A random permutation of ``range(n)`` (global CPU generator): ``perm[i]`` is the partner of sample ``i``."""
    return torch.randperm(n).to(device)


def mix(x: torch.Tensor, lam: torch.Tensor, perm: torch.Tensor, partners: torch.Tensor | None = None) -> torch.Tensor:
    """Return ``lam[i] * x[i] + (1 - lam[i]) * partners[perm[i]]`` along the first dimension (``partners``
    defaults to ``x``: mixing within the batch; another tensor of the same trailing shape mixes across batches).

    ``x`` may have any trailing shape (features, tokens x hidden, channels x time, ...); ``lam`` is broadcast over
    it. The input is not modified. Works for inputs and hidden states alike (manifold mixup).
    """
    if lam.ndim != 1 or lam.shape[0] != x.shape[0]:
        raise ValueError(f"lam must have shape ({x.shape[0]},), got {tuple(lam.shape)}")
    if perm.shape != lam.shape:
        raise ValueError(f"perm must have shape ({x.shape[0]},), got {tuple(perm.shape)}")
    w = lam.to(device=x.device, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
    return w * x + (1 - w) * (x if partners is None else partners)[perm.to(x.device)]


def mixup(
    x: torch.Tensor,
    alpha: float,
    *,
    prob: float = 1.0,
) -> MixupBatch:
    """Mix a batch with itself: sample ``lam`` and ``perm``, then :func:`mix`.

    Args:
        x: batch, first dimension is the sample index.
        alpha: Beta concentration.
        prob: fraction of samples that are mixed; the others keep ``lam = 1`` (MixCo's ``s_thresh``).
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"mixup prob must be in [0, 1], got {prob}")
    n = x.shape[0]
    lam = sample_lambda(n, alpha, dtype=torch.float64)
    if prob < 1.0:
        keep = torch.rand(n, dtype=torch.float64) >= prob
        lam = torch.where(keep, torch.ones_like(lam), lam)
    perm = sample_permutation(n)
    lam = lam.to(device=x.device, dtype=x.dtype)
    perm = perm.to(x.device)
    return MixupBatch(mixed=mix(x, lam, perm), lam=lam, perm=perm)
