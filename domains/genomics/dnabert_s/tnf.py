"""Canonical tetranucleotide frequencies (TNF): the 136-d composition baseline of metagenomic binning.

Every overlapping 4-mer of a sequence is counted together with its reverse complement (256 4-mers collapse to
136 canonical classes: 120 pairs + 16 palindromes); windows with a base other than A, C, G, T are skipped.
Frequencies sum to 1 per sequence. For clustering the features are z-scored over the evaluated set
(:func:`tnf_features`), as composition binners do.
"""

from __future__ import annotations

import numpy as np

__all__ = ["canonical_index", "tnf", "tnf_features"]

_CODE = np.full(256, 4, dtype=np.int64)
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _i


def canonical_index() -> np.ndarray:
    """Map from the 256 4-mer indices (base-4, A=0 C=1 G=2 T=3) to 136 canonical classes."""
    classes: dict[int, int] = {}
    out = np.empty(256, dtype=np.int64)
    for k in range(256):
        digits = [(k >> (2 * (3 - p))) & 3 for p in range(4)]
        rc = 0
        for d in reversed(digits):
            rc = rc * 4 + (3 - d)
        key = min(k, rc)
        out[k] = classes.setdefault(key, len(classes))
    assert len(classes) == 136
    return out


_CANON = canonical_index()


def tnf(seq: bytes) -> np.ndarray:
    """136 canonical 4-mer frequencies of one sequence (uniform if it has no valid 4-mer)."""
    c = _CODE[np.frombuffer(seq, dtype=np.uint8)]
    if len(c) < 4:
        return np.full(136, 1 / 136)
    k = c[:-3] * 64 + c[1:-2] * 16 + c[2:-1] * 4 + c[3:]
    ok = (c[:-3] < 4) & (c[1:-2] < 4) & (c[2:-1] < 4) & (c[3:] < 4)
    counts = np.bincount(_CANON[k[ok]], minlength=136).astype(np.float64)
    total = counts.sum()
    return counts / total if total else np.full(136, 1 / 136)


def tnf_features(seqs: list[bytes]) -> np.ndarray:
    """TNF of each sequence, z-scored per feature over the set."""
    x = np.stack([tnf(s) for s in seqs])
    sd = x.std(axis=0)
    return ((x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
