"""ssl_core losses against the slow loop references, plus properties that must hold whatever the inputs."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.losses import info_nce, m3co_loss, m3co_multimodal_loss, mixup_targets, nt_xent, soft_clip_loss
from tests.core.reference import info_nce_ref, m3co_ref, nt_xent_ref, soft_clip_ref

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 1e-4, torch.float64: 1e-10}


def _rand(*shape, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("symmetric", [False, True])
def test_info_nce_matches_reference(dtype, symmetric):
    q, k = _rand(7, 5, dtype=dtype), _rand(7, 5, dtype=dtype, seed=1)
    got = info_nce(q, k, 0.3, symmetric=symmetric)
    assert got.dtype == dtype
    assert float(got) == pytest.approx(info_nce_ref(q.double(), k.double(), 0.3, symmetric=symmetric), rel=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_info_nce_supcon_labels_match_reference(dtype):
    q, k = _rand(8, 4, dtype=dtype), _rand(8, 4, dtype=dtype, seed=2)
    labels = torch.tensor([0, 1, 0, 2, 1, 1, 2, 0])
    got = info_nce(q, k, 0.2, labels=labels, symmetric=True)
    ref = info_nce_ref(q.double(), k.double(), 0.2, labels=labels, symmetric=True)
    assert float(got) == pytest.approx(ref, rel=TOL[dtype])


def test_info_nce_extra_negatives_with_labels():
    q, k = _rand(4, 3), _rand(10, 3, seed=3)
    ql, kl = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert float(info_nce(q, k, 0.5, labels=ql, key_labels=kl)) == pytest.approx(
        info_nce_ref(q, k, 0.5, labels=ql, key_labels=kl), rel=1e-10
    )


def test_info_nce_closed_form_identical_embeddings():
    # All embeddings equal: every logit is the same, so the loss is log(B) exactly.
    x = torch.ones(6, 4, dtype=torch.float64)
    assert float(info_nce(x, x, 0.1)) == pytest.approx(math.log(6), rel=1e-12)


def test_info_nce_symmetric_is_symmetric_in_arguments():
    q, k = _rand(9, 6), _rand(9, 6, seed=4)
    assert float(info_nce(q, k, 0.2, symmetric=True)) == pytest.approx(float(info_nce(k, q, 0.2, symmetric=True)))


def test_info_nce_is_permutation_invariant():
    q, k = _rand(9, 6), _rand(9, 6, seed=5)
    p = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    assert float(info_nce(q[p], k[p], 0.2)) == pytest.approx(float(info_nce(q, k, 0.2)), rel=1e-12)


def test_info_nce_perfect_alignment_beats_random():
    q = _rand(16, 8)
    assert float(info_nce(q, q, 0.05)) < float(info_nce(q, _rand(16, 8, seed=9), 0.05))


@pytest.mark.parametrize("bad", [0.0, -1.0, 1e-9])
def test_temperature_is_checked(bad):
    with pytest.raises(ValueError, match="temperature"):
        info_nce(_rand(3, 2), _rand(3, 2), bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_labels", [False, True])
def test_nt_xent_matches_reference(dtype, with_labels):
    z1, z2 = _rand(6, 5, dtype=dtype), _rand(6, 5, dtype=dtype, seed=6)
    labels = torch.tensor([0, 1, 0, 1, 2, 2]) if with_labels else None
    got = nt_xent(z1, z2, 0.5, labels=labels)
    assert float(got) == pytest.approx(nt_xent_ref(z1.double(), z2.double(), 0.5, labels), rel=TOL[dtype])


def test_nt_xent_swapping_views_gives_same_loss():
    z1, z2 = _rand(5, 3), _rand(5, 3, seed=7)
    assert float(nt_xent(z1, z2)) == pytest.approx(float(nt_xent(z2, z1)), rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_m3co_matches_reference(dtype, bidirectional):
    mixed, other = _rand(7, 4, dtype=dtype), _rand(7, 4, dtype=dtype, seed=8)
    lam = torch.tensor([0.1, 0.9, 0.5, 1.0, 0.3, 0.7, 0.0], dtype=dtype)
    perm = torch.tensor([3, 0, 2, 6, 1, 5, 4])  # includes a self-pair (2 -> 2) and (5 -> 5)
    got = m3co_loss(mixed, other, lam, perm, 0.25, bidirectional=bidirectional)
    ref = m3co_ref(mixed.double(), other.double(), lam.double(), perm, 0.25, bidirectional)
    assert float(got) == pytest.approx(ref, rel=TOL[dtype])


def test_m3co_with_lambda_one_is_info_nce():
    mixed, other = _rand(8, 5), _rand(8, 5, seed=10)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(1))
    lam = torch.ones(8, dtype=torch.float64)
    assert float(m3co_loss(mixed, other, lam, perm, 0.1)) == pytest.approx(float(info_nce(mixed, other, 0.1)), rel=1e-12)


def test_m3co_with_lambda_zero_targets_the_partner():
    mixed, other = _rand(8, 5), _rand(8, 5, seed=11)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(2))
    lam = torch.zeros(8, dtype=torch.float64)
    # The partner of row i is other[perm[i]]: InfoNCE against the keys reordered by perm.
    expected = info_nce(mixed, other[perm], 0.1)
    assert float(m3co_loss(mixed, other, lam, perm, 0.1)) == pytest.approx(float(expected), rel=1e-12)


def test_mixup_targets_rows_sum_to_one():
    lam = torch.tensor([0.2, 0.5, 1.0, 0.0])
    t = mixup_targets(lam, torch.tensor([1, 1, 3, 0]))
    assert torch.allclose(t.sum(1), torch.ones(4))
    assert float(t[1, 1]) == pytest.approx(1.0)  # self-pair keeps all its mass on the diagonal
    assert float(t[0, 1]) == pytest.approx(0.8)


def test_m3co_multimodal_covers_both_directions_of_each_pair():
    embs = [_rand(6, 4, seed=s) for s in range(3)]
    mixed = [_rand(6, 4, seed=10 + s) for s in range(3)]
    lams = [torch.full((6,), 0.6, dtype=torch.float64) for _ in range(3)]
    perms = [torch.roll(torch.arange(6), s + 1) for s in range(3)]
    expected = sum(
        m3co_ref(mixed[a], embs[b], lams[a], perms[a], 0.1) for a in range(3) for b in range(3) if a != b
    ) / 6
    assert float(m3co_multimodal_loss(mixed, embs, lams, perms, 0.1)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_clip_matches_reference(dtype):
    p, q = _rand(6, 4, dtype=dtype), _rand(6, 4, dtype=dtype, seed=12)
    assert float(soft_clip_loss(p, q, 0.125)) == pytest.approx(soft_clip_ref(p.double(), q.double(), 0.125), rel=TOL[dtype])


def test_gradients_flow_and_match_finite_differences():
    mixed = _rand(5, 3).requires_grad_()
    other = _rand(5, 3, seed=13).requires_grad_()
    lam = torch.tensor([0.2, 0.4, 0.6, 0.8, 1.0], dtype=torch.float64)
    perm = torch.tensor([4, 3, 2, 1, 0])
    assert torch.autograd.gradcheck(lambda a, b: m3co_loss(a, b, lam, perm, 0.3, bidirectional=True), (mixed, other))
    assert torch.autograd.gradcheck(lambda a, b: info_nce(a, b, 0.3, symmetric=True), (mixed, other))
    assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, 0.3), (mixed, other))
    # soft_clip_loss treats its target distribution as a constant: check the gradient w.r.t. the predictions.
    assert torch.autograd.gradcheck(lambda a: soft_clip_loss(a, other.detach(), 0.3), (mixed,))
