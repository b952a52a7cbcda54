"""Mixup beyond the input: manifold mixup on hidden states via a forward hook, and geodesic mixup on the sphere.

Manifold mixup (Verma et al., ICML 2019, "Manifold Mixup") mixes the output of a randomly chosen layer instead of
the input. :func:`manifold_mixup` does it for any ``nn.Module`` stack without touching its ``forward``: it
registers a forward hook on the chosen module that replaces its output by ``mix(output, lam, perm)``
(:func:`ssl_core.mixup.mix`), and removes the hook on exit. DNABERT-S's MI-Mix is this on a transformer layer.

Geodesic mixup (Oh et al., NeurIPS 2023, "Geodesic Multi-Modal Mixup for Robust Fine-Tuning") interpolates unit
embeddings along the great circle (slerp), so mixed embeddings stay on the hypersphere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ssl_core.mixup import mix

__all__ = ["manifold_mixup", "sample_layer", "slerp", "geodesic_mixup"]


@contextlib.contextmanager
def manifold_mixup(module: nn.Module, lam: torch.Tensor, perm: torch.Tensor, *, once: bool = True) -> Iterator[None]:
    r"""Mix the output of ``module`` inside the ``with`` block: :math:`h \leftarrow \lambda_i h_i + (1 - \lambda_i) h_{\pi(i)}`.

    Works for any module whose output is a tensor with the batch first, or a tuple/list whose first element is
    (Hugging Face layers return ``(hidden_states, ...)``); the rest of the tuple is passed through. With ``once``
    (default) only the first call inside the block is mixed (a shared module called twice is mixed once).

    Example::

        layers = list(model.encoder.layer)
        k = sample_layer(len(layers))
        with manifold_mixup(layers[k], lam, perm):
            z_mixed = model(x)
    """
    calls = 0

    def hook(_mod: nn.Module, _inp: object, out: object) -> object:
        nonlocal calls
        calls += 1
        if once and calls > 1:
            return out
        if isinstance(out, torch.Tensor):
            return mix(out, lam, perm)
        if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
            return type(out)([mix(out[0], lam, perm), *out[1:]])
        raise ValueError(f"manifold_mixup cannot mix a module output of type {type(out).__name__}")

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def sample_layer(n_layers: int, *, low: int = 0, generator: torch.Generator | None = None) -> int:
    """Uniformly random layer index in ``[low, n_layers)`` (torch's global CPU generator unless given one)."""
    if not 0 <= low < n_layers:
        raise ValueError(f"need 0 <= low < n_layers, got low={low}, n_layers={n_layers}")
    return int(torch.randint(low, n_layers, (1,), generator=generator))


def slerp(a: torch.Tensor, b: torch.Tensor, lam: torch.Tensor | float, *, eps: float = 1e-6) -> torch.Tensor:
    r"""Spherical interpolation of the normalised rows of ``a`` and ``b``; ``lam`` is the weight of ``a``.

    With :math:`\theta = \arccos \langle \hat a, \hat b \rangle`:

    .. math::
        \mathrm{slerp}(a, b; \lambda) = \frac{\sin(\lambda\theta)}{\sin\theta}\hat a
            + \frac{\sin((1-\lambda)\theta)}{\sin\theta}\hat b

    The result has unit norm, ``lam = 1`` gives :math:`\hat a`, ``lam = 0`` gives :math:`\hat b`. Nearly
    parallel pairs (:math:`\sin\theta < \epsilon`) fall back to the normalised linear mix; antipodal pairs have no
    unique geodesic and are rejected only implicitly (the formula is evaluated with :math:`\theta` clamped).
    """
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    ua, ub = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    lam_t = torch.as_tensor(lam, dtype=a.dtype, device=a.device)
    if lam_t.ndim == 1:
        lam_t = lam_t.reshape(-1, *([1] * (a.ndim - 1)))
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1 + eps, 1 - eps)
    theta = torch.acos(cos)
    sin = torch.sin(theta)
    small = sin < eps
    safe_sin = torch.where(small, torch.ones_like(sin), sin)
    geo = (torch.sin(lam_t * theta) * ua + torch.sin((1 - lam_t) * theta) * ub) / safe_sin
    lin = F.normalize(lam_t * ua + (1 - lam_t) * ub, dim=-1)
    return torch.where(small, lin, geo)


def geodesic_mixup(z: torch.Tensor, lam: torch.Tensor | float, perm: torch.Tensor) -> torch.Tensor:
    r"""Geodesic mixup of a batch with itself: :math:`\mathrm{slerp}(z_i, z_{\pi(i)}; \lambda_i)` (Oh et al., 2023)."""
    if perm.shape != (z.shape[0],):
        raise ValueError(f"perm must have shape ({z.shape[0]},), got {tuple(perm.shape)}")
    return slerp(z, z[perm.to(z.device)], lam)
