"""The one place where ssl_core talks to ``torch.distributed``.

Losses that want negatives from every process call :func:`gather` (differentiable: the gradient of each
gathered block flows back to the process that produced it) and :func:`rank_offset` to locate their own rows in
the gathered batch. Queues call :func:`gather_no_grad`. Without an initialised process group every helper is the
identity, so the same code runs on one CPU and under DDP.

Gradient convention: with ``torch.distributed.nn.functional.all_gather`` the backward pass *sums* the gradients
that every process' loss sends to a block. Each process computes the mean loss over its own queries against the
keys of all processes; the full-batch loss is the mean of these per-process losses, so each process' gradient is
``W`` times its share of the full-batch gradient, and DDP's averaging over the ``W`` processes gives exactly the
full-batch gradient. ``tests/core/test_distributed.py`` checks this on two CPU processes (gloo).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

__all__ = ["is_distributed", "world_size", "rank", "gather", "gather_no_grad", "rank_offset"]


def is_distributed() -> bool:
    """True when torch.distributed is available and a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process' rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward makes the incoming gradient contiguous (collectives need dense buffers)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return grad.contiguous()


def gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every process along dim 0, keeping the autograd graph.

    All processes must pass tensors of the same shape. Identity without a process group. The gradient that
    reaches the gathered tensor may be strided (e.g. after a transpose); it is made contiguous before the
    collective of the backward pass, which otherwise reads the wrong elements.
    """
    if world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return _ContiguousGrad.apply(torch.cat(all_gather(x.contiguous()), dim=0))


@torch.no_grad()
def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (detached) from every process along dim 0. Identity without a process group."""
    if world_size() == 1:
        return x.detach()
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.detach().contiguous())
    return torch.cat(parts, dim=0)


def rank_offset(local_rows: int) -> int:
    """Index of this process' first row in a tensor gathered with :func:`gather` (equal sizes assumed)."""
    return rank() * local_rows
