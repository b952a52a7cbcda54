"""The issue-3 methods against their loop references (float32 and float64), plus properties and gradchecks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import ssl_core
from ssl_core import (
    NegativeQueue,
    barlow_twins_loss,
    c_mixup_partners,
    c_mixup_probabilities,
    cosine_momentum,
    cwcl_loss,
    cwcl_weights,
    dcl_loss,
    dclw_loss,
    decoupled_mixup_loss,
    ema_update_,
    geodesic_mixup,
    i_mix_loss,
    info_nce,
    manifold_mixup,
    mix,
    mix_hard_negatives,
    mixed_barlow_twins_loss,
    mixup_cross_entropy,
    mochi_loss,
    mochi_negatives,
    moco_info_nce,
    momentum_copy,
    multiview_info_nce,
    nt_xent,
    sample_layer,
    slerp,
    supremix_loss,
    supremix_pairs,
    vmf_weights,
)
from tests.core import reference_methods as ref

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 1e-4, torch.float64: 1e-10}


def _rand(*shape, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)


def _perm(n, seed=0):
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------------------- DCL / DCLW
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sigma", [None, 0.5])
def test_dcl_matches_reference(dtype, sigma):
    z1, z2 = _rand(7, 5, dtype=dtype), _rand(7, 5, dtype=dtype, seed=1)
    got = dcl_loss(z1, z2, 0.3, sigma=sigma)
    assert got.dtype == dtype
    assert float(got) == pytest.approx(ref.dcl_ref(z1.double(), z2.double(), 0.3, sigma), rel=TOL[dtype])


def test_dclw_is_dcl_with_vmf_weights_and_weights_average_to_one():
    z1, z2 = _rand(9, 4), _rand(9, 4, seed=2)
    assert float(dclw_loss(z1, z2, 0.2, 0.7)) == pytest.approx(float(dcl_loss(z1, z2, 0.2, sigma=0.7)), rel=1e-12)
    w = vmf_weights(z1, z2, 0.7)
    assert float(dcl_loss(z1, z2, 0.2, pos_weights=w)) == pytest.approx(float(dclw_loss(z1, z2, 0.2, 0.7)), rel=1e-12)
    w = vmf_weights(z1, z2, 0.7)
    assert float(w.mean()) == pytest.approx(1.0, rel=1e-12)
    # a huge sigma flattens the weighting: DCLW -> DCL
    assert float(dclw_loss(z1, z2, 0.2, 1e6)) == pytest.approx(float(dcl_loss(z1, z2, 0.2)), rel=1e-6)


def test_dcl_is_nt_xent_without_the_positive_in_the_denominator():
    # NT-Xent = DCL + mean log(1 + e^{pos} / sum_neg e^{neg}); check that identity numerically.
    z1, z2 = _rand(6, 3), _rand(6, 3, seed=3)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=-1)
    s = z @ z.T / 0.5
    b = 6
    extra = 0.0
    for i in range(2 * b):
        pos = float(s[i, (i + b) % (2 * b)])
        negs = [float(s[i, j]) for j in range(2 * b) if j % b != i % b]
        extra += math.log(1 + math.exp(pos - ref._lse(negs)))
    assert float(nt_xent(z1, z2, 0.5)) == pytest.approx(float(dcl_loss(z1, z2, 0.5)) + extra / (2 * b), rel=1e-10)


def test_dcl_symmetric_in_views_and_permutation_invariant():
    z1, z2 = _rand(8, 5), _rand(8, 5, seed=4)
    p = _perm(8)
    base = float(dcl_loss(z1, z2, 0.2, sigma=0.5))
    assert float(dcl_loss(z2, z1, 0.2, sigma=0.5)) == pytest.approx(base, rel=1e-12)
    assert float(dcl_loss(z1[p], z2[p], 0.2, sigma=0.5)) == pytest.approx(base, rel=1e-12)


def test_dcl_rejects_bad_input():
    with pytest.raises(ValueError, match="at least two"):
        dcl_loss(_rand(1, 3), _rand(1, 3))
    with pytest.raises(ValueError, match="sigma"):
        dclw_loss(_rand(4, 3), _rand(4, 3), 0.1, 0.0)


# ------------------------------------------------------------------------------------------- multi-view
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["joint", "pairwise"])
def test_multiview_matches_reference(dtype, mode):
    views = [_rand(5, 4, dtype=dtype, seed=s) for s in range(3)]
    got = multiview_info_nce(views, 0.4, mode=mode)
    assert float(got) == pytest.approx(ref.mv_info_nce_ref([v.double() for v in views], 0.4, mode), rel=TOL[dtype])


def test_multiview_pairwise_with_two_views_is_nt_xent():
    z1, z2 = _rand(7, 4), _rand(7, 4, seed=5)
    assert float(multiview_info_nce(torch.stack([z1, z2]), 0.3, mode="pairwise")) == pytest.approx(
        float(nt_xent(z1, z2, 0.3)), rel=1e-12
    )


def test_multiview_invariant_to_view_order_and_sample_order():
    views = torch.stack([_rand(6, 3, seed=s) for s in range(4)])
    base = float(multiview_info_nce(views, 0.2))
    assert float(multiview_info_nce(views[[2, 0, 3, 1]], 0.2)) == pytest.approx(base, rel=1e-12)
    assert float(multiview_info_nce(views[:, _perm(6)], 0.2)) == pytest.approx(base, rel=1e-12)


def test_multiview_closed_form_identical_embeddings():
    # all equal: P = V(V-1) e^{1/t}, N = V^2 (B-1) e^{1/t}  ->  loss = log(1 + V (B-1) / (V-1))
    x = torch.ones(3, 5, 4, dtype=torch.float64)
    assert float(multiview_info_nce(x, 0.1)) == pytest.approx(math.log(1 + 3 * 4 / 2), rel=1e-12)


# ---------------------------------------------------------------------------------------- MoCo / MoCHi
def test_cosine_momentum_schedule():
    assert cosine_momentum(0, 100, 0.99, 1.0) == pytest.approx(0.99)
    assert cosine_momentum(50, 100, 0.99, 1.0) == pytest.approx(0.995)
    assert cosine_momentum(100, 100, 0.99, 1.0) == pytest.approx(1.0)
    assert cosine_momentum(500, 100, 0.99, 1.0) == pytest.approx(1.0)
    ms = [cosine_momentum(s, 20, 0.9, 1.0) for s in range(21)]
    assert all(a <= b for a, b in zip(ms, ms[1:]))
    with pytest.raises(ValueError):
        cosine_momentum(1, 0)


def test_ema_update_formula_and_buffers():
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    target = momentum_copy(online)
    assert all(not p.requires_grad for p in target.parameters())
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    online(torch.randn(8, 3))  # moves running stats and num_batches_tracked
    before = {k: v.clone() for k, v in target.state_dict().items()}
    ema_update_(target, online, 0.9)
    for k, v in target.state_dict().items():
        o = online.state_dict()[k]
        if v.is_floating_point():
            assert torch.allclose(v, 0.9 * before[k] + 0.1 * o)
        else:
            assert torch.equal(v, o)
    ema_update_(target, online, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), online.state_dict().values()))
    with pytest.raises(ValueError, match="momentum"):
        ema_update_(target, online, 1.5)
    with pytest.raises(ValueError):
        ema_update_(nn.Linear(3, 5), nn.Linear(3, 4), 0.5)


def test_queue_ring_buffer_order_and_dequeue():
    q = NegativeQueue(5, 2, with_labels=True, normalize=False)
    k = torch.arange(14, dtype=torch.float32).reshape(7, 2)
    q.enqueue(k[:3], torch.arange(3))
    assert len(q) == 3 and torch.equal(q.keys(), k[:3])
    q.enqueue(k[3:7], torch.arange(3, 7))  # 7 keys in a queue of 5: the two oldest are dropped
    assert len(q) == 5
    assert torch.equal(q.keys(), k[2:7]) and torch.equal(q.labels(), torch.arange(2, 7))
    keys, labels = q.dequeue(2)
    assert torch.equal(keys, k[2:4]) and torch.equal(labels, torch.tensor([2, 3]))
    assert torch.equal(q.keys(), k[4:7])
    big = torch.arange(24, dtype=torch.float32).reshape(12, 2)
    q.enqueue(big, torch.arange(12))  # more than the capacity: only the newest 5 survive
    assert torch.equal(q.keys(), big[-5:])
    state = q.state_dict()
    q2 = NegativeQueue(5, 2, with_labels=True, normalize=False)
    q2.load_state_dict(state)
    assert torch.equal(q2.keys(), q.keys())


def test_queue_normalises_and_detaches_and_validates():
    q = NegativeQueue(4, 3)
    x = _rand(2, 3, dtype=torch.float32).requires_grad_()
    q.enqueue(x * 5)
    assert not q.keys().requires_grad
    assert torch.allclose(q.keys().norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="labels"):
        q.enqueue(x, torch.arange(2))
    with pytest.raises(ValueError, match="dequeue"):
        q.dequeue(3)
    with pytest.raises(ValueError):
        NegativeQueue(0, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_moco_info_nce_matches_reference_and_info_nce(dtype):
    q, k, negs = _rand(5, 4, dtype=dtype), _rand(5, 4, dtype=dtype, seed=1), _rand(9, 4, dtype=dtype, seed=2)
    extra = _rand(5, 3, 4, dtype=dtype, seed=3)
    got = moco_info_nce(q, k, negs, 0.2, extra_negatives=extra)
    assert float(got) == pytest.approx(ref.moco_ref(q.double(), k.double(), negs.double(), 0.2, extra.double()),
                                       rel=TOL[dtype])
    # each query against its own key and the shared negatives is one-row InfoNCE
    per_row = [float(info_nce(q[i : i + 1], torch.cat([k[i : i + 1], negs]), 0.2)) for i in range(5)]
    assert float(moco_info_nce(q, k, negs, 0.2)) == pytest.approx(sum(per_row) / 5, rel=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_mix_hard_negatives_matches_reference(dtype):
    q = _rand(3, 4, dtype=dtype)
    hardest = torch.nn.functional.normalize(_rand(3, 5, 4, dtype=dtype, seed=1), dim=-1)
    g = torch.Generator().manual_seed(0)
    pair_index = torch.randint(5, (3, 4, 2), generator=g)
    alpha = torch.rand(3, 4, generator=g, dtype=torch.float64)
    query_index = torch.randint(5, (3, 2), generator=g)
    beta = 0.5 * torch.rand(3, 2, generator=g, dtype=torch.float64)
    got = mix_hard_negatives(q, hardest, pair_index, alpha, query_index, beta)
    want = ref.mix_hard_negatives_ref(q.double(), hardest.double(), pair_index, alpha, query_index, beta)
    assert got.shape == (3, 6, 4)
    assert torch.allclose(got.double(), want, atol=10 * TOL[dtype])


def test_mochi_negatives_are_unit_harder_and_reproducible():
    q, negs = _rand(4, 8), _rand(64, 8, seed=1)
    h1 = mochi_negatives(q, negs, n_hard=8, n_mix=16, n_query_mix=4, generator=torch.Generator().manual_seed(1))
    h2 = mochi_negatives(q, negs, n_hard=8, n_mix=16, n_query_mix=4, generator=torch.Generator().manual_seed(1))
    assert h1.shape == (4, 20, 8) and torch.equal(h1, h2)
    assert torch.allclose(h1.norm(dim=-1), torch.ones(4, 20, dtype=torch.float64))
    qn = torch.nn.functional.normalize(q, dim=-1)
    sim_synth = torch.einsum("bd,bsd->bs", qn, h1)
    sim_all = qn @ torch.nn.functional.normalize(negs, dim=-1).T
    # query mixes (beta > 0) are at least as close to the query as the hardest negative they come from, and
    # on average synthetic negatives are harder than the queue's.
    assert float(sim_synth.mean()) > float(sim_all.mean())


def test_mochi_without_synthesis_is_moco_and_with_it_is_larger():
    q, k, negs = _rand(6, 5), _rand(6, 5, seed=1), _rand(30, 5, seed=2)
    assert float(mochi_loss(q, k, negs, 0.2, n_mix=0, n_query_mix=0)) == pytest.approx(
        float(moco_info_nce(q, k, negs, 0.2)), rel=1e-12
    )
    # more negatives in the denominator can only raise the loss
    assert float(mochi_loss(q, k, negs, 0.2, n_hard=10, n_mix=8, n_query_mix=4)) > float(moco_info_nce(q, k, negs, 0.2))


# ------------------------------------------------------------------------------- manifold / geodesic
def test_manifold_mixup_hook_mixes_the_chosen_layer_only_inside_the_block():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x = torch.randn(5, 4, dtype=torch.float32)
    lam, perm = torch.tensor([0.3, 1.0, 0.5, 0.0, 0.8]), torch.tensor([1, 0, 4, 2, 3])
    with manifold_mixup(net[1], lam, perm):
        out = net(x)
    h = torch.tanh(net[0](x))
    assert torch.allclose(out, net[2](mix(h, lam, perm)), atol=1e-6)
    assert torch.allclose(net(x), net[2](h), atol=1e-6)  # hook removed
    assert len(net[1]._forward_hooks) == 0


def test_manifold_mixup_tuple_outputs_and_once():
    class Layer(nn.Module):
        def forward(self, x):
            return (x * 2, "aux")

    layer = Layer()
    x = torch.arange(6.0).reshape(3, 2)
    lam, perm = torch.full((3,), 0.5), torch.tensor([2, 0, 1])
    with manifold_mixup(layer, lam, perm):
        out, aux = layer(x)
        again, _ = layer(x)
    assert aux == "aux" and torch.allclose(out, mix(x * 2, lam, perm)) and torch.equal(again, x * 2)
    k = sample_layer(6, low=2, generator=torch.Generator().manual_seed(0))
    assert 2 <= k < 6
    with pytest.raises(ValueError):
        sample_layer(3, low=3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_slerp_matches_reference_stays_on_sphere_and_hits_endpoints(dtype):
    a, b = _rand(4, 5, dtype=dtype), _rand(4, 5, dtype=dtype, seed=1)
    lam = torch.tensor([0.0, 0.25, 0.6, 1.0], dtype=dtype)
    out = slerp(a, b, lam)
    for i in range(4):
        assert torch.allclose(out[i].double(), ref.slerp_ref(a[i].double(), b[i].double(), float(lam[i])),
                              atol=10 * TOL[dtype])
    assert torch.allclose(out.norm(dim=-1), torch.ones(4, dtype=dtype), atol=10 * TOL[dtype])
    an, bn = torch.nn.functional.normalize(a, dim=-1), torch.nn.functional.normalize(b, dim=-1)
    assert torch.allclose(out[0], bn[0], atol=10 * TOL[dtype]) and torch.allclose(out[3], an[3], atol=10 * TOL[dtype])
    # equal angles: the midpoint is as far from both ends
    mid = slerp(a, b, 0.5)
    assert torch.allclose((mid * an).sum(-1), (mid * bn).sum(-1), atol=10 * TOL[dtype])


def test_slerp_parallel_inputs_and_geodesic_mixup():
    a = _rand(3, 4)
    assert torch.allclose(slerp(a, 2 * a, 0.3), torch.nn.functional.normalize(a, dim=-1))
    perm = torch.tensor([1, 2, 0])
    assert torch.allclose(geodesic_mixup(a, torch.full((3,), 0.4, dtype=torch.float64), perm), slerp(a, a[perm], 0.4))


# ------------------------------------------------------------------------------------- regression
@pytest.mark.parametrize("exclude_self", [False, True])
def test_c_mixup_probabilities_match_reference(exclude_self):
    y = torch.tensor([0.0, 0.1, 0.5, 2.0, 2.2], dtype=torch.float64)
    p = c_mixup_probabilities(y, 0.3, exclude_self=exclude_self)
    want = torch.tensor(ref.c_mixup_prob_ref(y.tolist(), 0.3, exclude_self), dtype=torch.float64)
    assert torch.allclose(p, want, atol=1e-12)
    assert torch.allclose(p.sum(1), torch.ones(5, dtype=torch.float64))


def test_c_mixup_partners_prefer_close_labels():
    y = torch.tensor([0.0, 0.05, 10.0, 10.05])
    idx = torch.stack([c_mixup_partners(y, 0.5, exclude_self=True, generator=torch.Generator().manual_seed(s))
                       for s in range(20)])
    assert torch.equal(idx, torch.tensor([1, 0, 3, 2]).expand(20, 4))  # the other cluster has probability ~0
    with pytest.raises(ValueError, match="bandwidth"):
        c_mixup_probabilities(y, 0.0)


def test_supremix_pairs_hard_positive_has_the_anchor_label():
    z = _rand(5, 3)
    y = torch.tensor([1.0, 2.0, 4.0, 3.0, 0.0], dtype=torch.float64)
    hp, pv, hn, nv = supremix_pairs(z, y, neg_lam=0.7)
    assert pv.tolist() == [True, True, False, True, False] and nv.tolist() == [[True, True], [True, True],
                                                                               [True, False], [True, True],
                                                                               [False, True]]
    zn = torch.nn.functional.normalize(z, dim=-1)
    # anchor 1 (y = 2): neighbours y = 1 (idx 0) and y = 3 (idx 3), mu = 0.5
    assert torch.allclose(hp[1], 0.5 * zn[0] + 0.5 * zn[3])
    assert torch.allclose(hn[1, 0], 0.7 * zn[1] + 0.3 * zn[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_supremix_loss_matches_reference(dtype):
    z = _rand(8, 4, dtype=dtype)
    y = torch.tensor([0.0, 1.0, 1.0, 2.5, 3.0, 3.0, 5.0, 0.0], dtype=dtype)
    got = supremix_loss(z, y, 0.3, neg_lam=0.6)
    assert float(got) == pytest.approx(ref.supremix_ref(z.double(), y.double(), 0.3, 0.6), rel=TOL[dtype])
    # with distinct labels the neighbours are unique, so the loss cannot depend on the batch order
    y_distinct = torch.tensor([0.0, 1.0, 1.5, 2.5, 3.0, 3.2, 5.0, 0.4], dtype=dtype)
    p = _perm(8)
    assert float(supremix_loss(z[p], y_distinct[p], 0.3)) == pytest.approx(float(supremix_loss(z, y_distinct, 0.3)),
                                                                         rel=TOL[dtype])


# ---------------------------------------------------------------------------------------- Barlow
@pytest.mark.parametrize("dtype", DTYPES)
def test_mixed_barlow_matches_reference(dtype):
    z1, z2, zm = (_rand(6, 3, dtype=dtype, seed=s) for s in range(3))
    perm = torch.tensor([2, 0, 1, 5, 3, 4])
    bt, *_ = ref.barlow_ref(z1.double(), z2.double(), 0.05)
    assert float(barlow_twins_loss(z1, z2, 0.05)) == pytest.approx(bt, rel=TOL[dtype])
    got = mixed_barlow_twins_loss(z1, z2, zm, 0.3, perm, 0.05, mix_scale=2.0)
    want = ref.mixed_barlow_ref(z1.double(), z2.double(), zm.double(), 0.3, perm, 0.05, 2.0)
    assert float(got) == pytest.approx(want, rel=TOL[dtype])


def test_mixed_barlow_reduces_to_barlow_twins():
    torch.manual_seed(0)
    enc = nn.Linear(5, 4, dtype=torch.float64)
    xa, xb = torch.randn(16, 5, dtype=torch.float64), torch.randn(16, 5, dtype=torch.float64)
    perm, lam = _perm(16), 0.35
    with torch.no_grad():
        za, zb = enc(xa), enc(xb)
        zm = enc(lam * xa + (1 - lam) * xb[perm])
    assert float(mixed_barlow_twins_loss(za, zb, zm, lam, perm, 0.1, mix_scale=0.0)) == pytest.approx(
        float(barlow_twins_loss(za, zb, 0.1)), rel=1e-12
    )
    with_reg = float(mixed_barlow_twins_loss(za, zb, zm, lam, perm, 0.1, mix_scale=1.0))
    assert with_reg > float(barlow_twins_loss(za, zb, 0.1))
    # lam = 1 and z_m = z_a: the regulariser is exactly zero
    assert float(mixed_barlow_twins_loss(za, zb, za, 1.0, perm, 0.1)) == pytest.approx(
        float(barlow_twins_loss(za, zb, 0.1)), rel=1e-12
    )


def test_barlow_closed_form_perfect_decorrelated_twins():
    # z1 = z2 with orthogonal standardised columns: C = I, loss 0
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    # unbiased std of a +-1 column of 4 is sqrt(4/3): C_ii = 1 / (sqrt(4/3) + eps)^2, C_ij = 0 (orthogonal columns)
    c = 1 / (math.sqrt(4 / 3) + 1e-6) ** 2
    assert float(barlow_twins_loss(z, z, 0.5)) == pytest.approx(2 * (1 - c) ** 2, rel=1e-12)


# ------------------------------------------------------------------------------------------ CWCL
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("symmetric", [False, True])
def test_cwcl_matches_reference(dtype, symmetric):
    p, q = _rand(6, 4, dtype=dtype), _rand(6, 4, dtype=dtype, seed=1)
    got = cwcl_loss(p, q, 0.2, symmetric=symmetric)
    assert float(got) == pytest.approx(ref.cwcl_ref(p.double(), q.double(), 0.2, symmetric), rel=TOL[dtype])


def test_cwcl_identity_weights_is_clip():
    p, q = _rand(7, 4), _rand(7, 4, seed=2)
    eye = torch.eye(7, dtype=torch.float64)
    assert float(cwcl_loss(p, q, 0.1, weights=eye)) == pytest.approx(float(info_nce(p, q, 0.1, symmetric=True)),
                                                                   rel=1e-12)
    with pytest.raises(ValueError, match="weights"):
        cwcl_loss(p, q, 0.1, weights=-eye)


# ----------------------------------------------------------------------------------- decoupled mixup
@pytest.mark.parametrize("dtype", DTYPES)
def test_decoupled_mixup_matches_reference(dtype):
    logits = _rand(6, 5, dtype=dtype)
    ya, yb = torch.tensor([0, 1, 2, 3, 4, 2]), torch.tensor([1, 1, 4, 0, 2, 3])
    lam = torch.tensor([0.3, 0.5, 1.0, 0.8, 0.0, 0.5], dtype=dtype)
    got = decoupled_mixup_loss(logits, ya, yb, lam, eta=0.4)
    assert float(got) == pytest.approx(ref.decoupled_ref(logits.double(), ya, yb, lam.double(), 0.4), rel=TOL[dtype])


def test_decoupled_mixup_reduces_to_cross_entropy_and_mixup_ce():
    logits = _rand(5, 4)
    ya, yb = torch.tensor([0, 1, 2, 3, 0]), torch.tensor([3, 2, 1, 0, 2])
    ce = torch.nn.functional.cross_entropy(logits, ya)
    assert float(decoupled_mixup_loss(logits, ya, yb, torch.ones(5, dtype=torch.float64), 1.0)) == pytest.approx(float(ce))
    assert float(decoupled_mixup_loss(logits, yb, ya, torch.zeros(5, dtype=torch.float64), 1.0)) == pytest.approx(float(ce))
    lam = torch.full((5,), 0.4, dtype=torch.float64)
    assert float(decoupled_mixup_loss(logits, ya, yb, lam, 0.0)) == pytest.approx(
        float(mixup_cross_entropy(logits, ya, yb, lam))
    )
    # swapping the two sources and lam -> 1 - lam gives the same loss
    assert float(decoupled_mixup_loss(logits, ya, yb, lam, 0.5)) == pytest.approx(
        float(decoupled_mixup_loss(logits, yb, ya, 1 - lam, 0.5)), rel=1e-12
    )


# --------------------------------------------------------------------------------------- i-Mix / MI-Mix
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mixed_negatives", [False, True])
def test_i_mix_matches_reference(dtype, mixed_negatives):
    m, k = _rand(5, 4, dtype=dtype), _rand(8, 4, dtype=dtype, seed=1)  # 3 extra negative keys
    lam = torch.tensor([0.2, 0.9, 0.5, 1.0, 0.0], dtype=dtype)
    perm = torch.tensor([3, 0, 2, 4, 1])
    got = i_mix_loss(m, k, lam, perm, 0.3, mixed_negatives=mixed_negatives)
    want = ref.i_mix_ref(m.double(), k.double(), lam.double(), perm, 0.3, mixed_negatives)
    assert float(got) == pytest.approx(want, rel=TOL[dtype])


def test_i_mix_lambda_one_is_info_nce():
    m, k = _rand(6, 3), _rand(6, 3, seed=1)
    assert float(i_mix_loss(m, k, torch.ones(6, dtype=torch.float64), _perm(6), 0.2)) == pytest.approx(
        float(info_nce(m, k, 0.2)), rel=1e-12
    )


# ------------------------------------------------------------------------------------------- gradients
def test_gradchecks_float64():
    a, b, c = (_rand(4, 3, seed=s).requires_grad_() for s in range(3))
    lam = torch.tensor([0.2, 0.5, 0.7, 1.0], dtype=torch.float64)
    perm = torch.tensor([1, 2, 3, 0])
    w_fixed = vmf_weights(a, b, 0.5).clone()  # gradcheck perturbs the inputs in place
    checks = {
        "dcl": (lambda x, y: dcl_loss(x, y, 0.3), (a, b)),
        # DCLW weights are constants by design: check the gradient with them fixed
        "dclw": (lambda x, y: dcl_loss(x, y, 0.3, pos_weights=w_fixed), (a, b)),
        "nt_xent_labels": (lambda x, y: nt_xent(x, y, 0.3, labels=torch.tensor([0, 1, 0, 1])), (a, b)),
        "mv_joint": (lambda x, y, z: multiview_info_nce([x, y, z], 0.3), (a, b, c)),
        "mv_pairwise": (lambda x, y, z: multiview_info_nce([x, y, z], 0.3, mode="pairwise"), (a, b, c)),
        "moco": (lambda x, y, z: moco_info_nce(x, y, z, 0.3, extra_negatives=z[None].expand(4, 4, 3)), (a, b, c)),
        "slerp": (lambda x, y: geodesic_mixup(x, lam * 0.9 + 0.05, perm).sum() + slerp(x, y, 0.3).pow(2).sum(), (a, b)),
        "supremix": (lambda x: supremix_loss(x, torch.tensor([0.0, 1.0, 1.0, 2.0], dtype=torch.float64), 0.3), (a,)),
        "barlow": (lambda x, y, z: mixed_barlow_twins_loss(x, y, z, lam, perm, 0.1), (a, b, c)),
        "cwcl": (lambda x: cwcl_loss(x, b.detach(), 0.3), (a,)),  # the weights come from (constant) q
        "cwcl_given_weights": (lambda x, y: cwcl_loss(x, y, 0.3, weights=cwcl_weights(c)), (a, b)),
        "decoupled": (lambda x: decoupled_mixup_loss(x, torch.tensor([0, 1, 2, 0]), perm % 3, lam, 0.5), (a,)),
        "i_mix": (lambda x, y: i_mix_loss(x, y, lam, perm, 0.3, mixed_negatives=True), (a, b)),
    }
    for name, (fn, inputs) in checks.items():
        assert torch.autograd.gradcheck(fn, inputs), name


def test_everything_is_exported():
    for name in ssl_core.__all__:
        assert getattr(ssl_core, name) is not None, name
    assert {"dcl_loss", "NegativeQueue", "mochi_loss", "manifold_mixup", "slerp", "c_mixup_partners",
            "supremix_loss", "mixed_barlow_twins_loss", "cwcl_loss", "decoupled_mixup_loss", "i_mix_loss",
            "multiview_info_nce", "ema_update_", "cosine_momentum"} <= set(ssl_core.__all__)


def test_masked_logsumexp_matches_autograd_and_survives_retain_graph():
    from ssl_core.losses.infonce import masked_logsumexp

    q, k = _rand(5, 3).requires_grad_(), _rand(7, 3, seed=1).requires_grad_()
    exclude = torch.tensor([[0], [1], [2], [3], [4]])
    mask = torch.rand(5, 7, generator=torch.Generator().manual_seed(0)) > 0.5
    mask[:, 6] = True
    mask.scatter_(1, exclude, False)
    assert torch.autograd.gradcheck(lambda a, b: masked_logsumexp(a, b, exclude, mask), (q, k))
    lse, pos = masked_logsumexp(q, k, exclude, mask)
    logits = (q @ k.T).scatter(1, exclude, float("-inf"))
    assert torch.allclose(lse, torch.logsumexp(logits, 1))
    assert torch.allclose(pos, torch.where(mask, logits, torch.zeros(())).sum(1) / mask.sum(1))
    out = (lse - pos).sum()
    g1 = torch.autograd.grad(out, (q, k), retain_graph=True)
    g2 = torch.autograd.grad(out, (q, k))
    assert all(torch.equal(a, b) for a, b in zip(g1, g2))
