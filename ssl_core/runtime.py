"""Process-wide settings every training stage applies first: torch threads and seeds."""

from __future__ import annotations

import os

import torch

__all__ = ["set_threads"]


def set_threads(threads: int | None) -> int:
    """Use ``threads`` intra-op threads (the rule's ``threads:``); default: ``$SLURM_CPUS_PER_TASK`` or 1.

    On small models, oversubscription costs more than it gains: measured here, two intra-op threads made the
    M3CoL step about 3x slower in wall time than one thread when the other core was busy. Inter-op threads are
    set to one as well, and BLAS libraries read ``OMP_NUM_THREADS``.
    """
    if threads is None:
        threads = int(os.environ.get("SLURM_CPUS_PER_TASK", "1"))
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process
        pass
    return threads
