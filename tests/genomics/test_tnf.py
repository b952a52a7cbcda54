"""Canonical TNF: 136 classes, strand-symmetric, exact counts on a hand-checked sequence."""

from __future__ import annotations

import numpy as np

from domains.genomics.dnabert_s.tnf import canonical_index, tnf, tnf_features

_RC = bytes.maketrans(b"ACGT", b"TGCA")


def test_136_classes_and_reverse_complement_share_a_class():
    idx = canonical_index()
    assert len(set(idx.tolist())) == 136
    code = {"A": 0, "C": 1, "G": 2, "T": 3}
    k = lambda s: sum(code[c] << (2 * (3 - i)) for i, c in enumerate(s))  # noqa: E731
    assert idx[k("AAAC")] == idx[k("GTTT")] and idx[k("ACGT")] != idx[k("AAAA")]


def test_tnf_is_strand_symmetric_and_sums_to_one():
    rng = np.random.default_rng(0)
    seq = bytes(rng.choice(list(b"ACGT"), size=3000))
    f = tnf(seq)
    assert f.shape == (136,) and abs(f.sum() - 1) < 1e-12
    assert np.allclose(f, tnf(seq.translate(_RC)[::-1]))


def test_exact_counts_and_ambiguous_windows_skipped():
    f = tnf(b"AAAAAN" + b"AAAA")  # windows: AAAA x2 (before N) + AAAA (after); windows touching N are skipped
    idx = canonical_index()
    assert f[idx[0]] == 1.0
    g = tnf(b"AAAAC")  # AAAA and AAAC, equal weight
    assert g[idx[0]] == 0.5 and g[idx[1]] == 0.5


def test_features_are_z_scored():
    x = tnf_features([b"ACGT" * 100, b"AAAT" * 100, b"GGCA" * 100])
    assert np.allclose(x.mean(0), 0, atol=1e-6)
