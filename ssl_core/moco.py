"""MoCo machinery (He et al., CVPR 2020, "Momentum Contrast for Unsupervised Visual Representation Learning"):
a momentum (EMA) copy of the encoder with a momentum schedule, and a queue of negatives.

The queue is a ring buffer held in module buffers (so it moves with ``.to(device)`` and is saved in the
``state_dict``); under ``torch.distributed`` :meth:`NegativeQueue.enqueue` first gathers the keys (and labels) of
every process, so all processes hold the same queue, in rank order, as one process fed the whole batch would.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ssl_core import distributed

__all__ = ["cosine_momentum", "momentum_copy", "ema_update_", "NegativeQueue"]


def cosine_momentum(step: int, total_steps: int, m0: float = 0.996, m1: float = 1.0) -> float:
    r"""Cosine momentum schedule (BYOL, Grill et al., 2020; used by MoCo v3 and DINO).

    .. math::
        m(t) = m_1 - (m_1 - m_0)\,\frac{1 + \cos(\pi t / T)}{2}

    ``m(0) = m0`` and ``m(T) = m1``; steps past ``T`` stay at ``m1``.
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps must be > 0, got {total_steps}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if not (0.0 <= m0 <= 1.0 and 0.0 <= m1 <= 1.0):
        raise ValueError(f"momenta must be in [0, 1], got m0={m0}, m1={m1}")
    t = min(step, total_steps) / total_steps
    return m1 - (m1 - m0) * (1 + math.cos(math.pi * t)) / 2


def momentum_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with gradients switched off: the initial momentum (key) encoder."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    r"""In-place EMA of the online encoder into the target (key) encoder.

    .. math:: \theta_k \leftarrow m\,\theta_k + (1 - m)\,\theta_q

    Floating-point buffers (e.g. BatchNorm running statistics) get the same average; integer buffers (e.g.
    ``num_batches_tracked``) are copied. The two modules must have the same parameter and buffer names and shapes.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    t_state = dict(target.named_parameters())
    t_state.update(dict(target.named_buffers()))
    o_state = dict(online.named_parameters())
    o_state.update(dict(online.named_buffers()))
    if t_state.keys() != o_state.keys():
        raise ValueError("target and online modules must have the same parameters and buffers")
    for name, t in t_state.items():
        o = o_state[name]
        if t.shape != o.shape:
            raise ValueError(f"shape mismatch for {name}: {tuple(t.shape)} vs {tuple(o.shape)}")
        if t.is_floating_point():
            t.mul_(momentum).add_(o.detach().to(t.dtype), alpha=1 - momentum)
        else:
            t.copy_(o)


class NegativeQueue(nn.Module):
    """Fixed-size FIFO queue of (normalised) keys, with optional integer labels, as a ring buffer.

    ``enqueue`` writes the newest keys over the oldest ones; ``dequeue`` removes and returns the oldest ones;
    ``keys()`` / ``labels()`` return the current content ordered oldest first. Keys are stored detached. With
    ``gather_distributed`` (default) and an initialised process group, ``enqueue`` all-gathers keys and labels
    first, so every process holds the same queue. ``normalize`` L2-normalises keys on the way in.

    Args:
        size: capacity ``K``.
        dim: key dimension ``D``.
        with_labels: keep a label per key (SupCon-style positives from the queue).
    """

    def __init__(
        self,
        size: int,
        dim: int,
        *,
        with_labels: bool = False,
        normalize: bool = True,
        gather_distributed: bool = True,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if size <= 0 or dim <= 0:
            raise ValueError(f"queue size and dim must be > 0, got size={size}, dim={dim}")
        self.size, self.dim = size, dim
        self.with_labels, self.normalize, self.gather_distributed = with_labels, normalize, gather_distributed
        self.register_buffer("_keys", torch.zeros(size, dim, dtype=dtype, device=device))
        self.register_buffer("_labels", torch.full((size,), -1, dtype=torch.long, device=device))
        self.register_buffer("_ptr", torch.zeros((), dtype=torch.long, device=device))
        self.register_buffer("_count", torch.zeros((), dtype=torch.long, device=device))

    def __len__(self) -> int:
        return int(self._count)

    def _order(self) -> torch.Tensor:
        count, ptr = int(self._count), int(self._ptr)
        return (ptr - count + torch.arange(count, device=self._keys.device)) % self.size

    def keys(self) -> torch.Tensor:
        """Current keys, oldest first, shape ``(len(self), D)`` (a copy, safe to use as negatives)."""
        return self._keys[self._order()]

    def labels(self) -> torch.Tensor:
        """Labels of :meth:`keys`, same order."""
        if not self.with_labels:
            raise ValueError("this queue was built with with_labels=False")
        return self._labels[self._order()]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """Append a batch of keys (and labels), overwriting the oldest entries when full."""
        if keys.ndim != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"keys must be (B, {self.dim}), got {tuple(keys.shape)}")
        if self.with_labels != (labels is not None):
            raise ValueError("labels must be given exactly when the queue was built with_labels=True")
        if labels is not None and labels.shape != (keys.shape[0],):
            raise ValueError(f"labels must have shape ({keys.shape[0]},), got {tuple(labels.shape)}")
        keys = keys.detach()
        if self.normalize:
            keys = torch.nn.functional.normalize(keys, dim=-1)
        if self.gather_distributed:
            keys = distributed.gather_no_grad(keys)
            if labels is not None:
                labels = distributed.gather_no_grad(labels)
        n = keys.shape[0]
        if n > self.size:  # only the newest `size` keys survive
            keys = keys[-self.size :]
            labels = None if labels is None else labels[-self.size :]
            n = self.size
        idx = (int(self._ptr) + torch.arange(n, device=self._keys.device)) % self.size
        self._keys[idx] = keys.to(self._keys.dtype)
        if labels is not None:
            self._labels[idx] = labels.to(device=self._labels.device, dtype=torch.long)
        self._ptr.fill_((int(self._ptr) + n) % self.size)
        self._count.fill_(min(int(self._count) + n, self.size))

    @torch.no_grad()
    def dequeue(self, n: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Remove and return the ``n`` oldest keys (with their labels when the queue has labels)."""
        if not 0 <= n <= len(self):
            raise ValueError(f"can dequeue between 0 and {len(self)} keys, got {n}")
        idx = self._order()[:n]
        out_keys = self._keys[idx].clone()
        out = (out_keys, self._labels[idx].clone()) if self.with_labels else out_keys
        self._count.fill_(int(self._count) - n)
        return out
