"""DNABERT-S losses (ssl_core.losses.mimix) against explicit loop references written from the formulas."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.losses.infonce import nt_xent
from ssl_core.losses.imix import i_mix_loss as mimix_loss  # MI-Mix is i-Mix on hidden-state mixing
from ssl_core.losses.m3co import mixup_targets as mimix_targets
from ssl_core.losses.mimix import weighted_simclr
from ssl_core.mixup import mix as mix_hidden

torch.set_num_threads(1)


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _cos(u, v):
    return float(torch.dot(u, v) / (u.norm() * v.norm()))


def weighted_simclr_ref(z1, z2, t, alpha):
    z = torch.cat([z1, z2])
    n, b = z.shape[0], z1.shape[0]
    total = 0.0
    for i in range(n):
        p = (i + b) % n
        negs = [j for j in range(n) if j not in (i, p)]
        e = {j: math.exp(alpha * _cos(z[i], z[j]) / t) for j in negs}
        mean_e = sum(e.values()) / len(negs)
        num = math.exp(_cos(z[i], z[p]) / t)
        den = num + sum(e[j] / mean_e * math.exp(_cos(z[i], z[j]) / t) for j in negs)
        total += -math.log(num / den)
    return total / n


def mimix_ref(zm, keys, lam, perm, t):
    total = 0.0
    for i in range(zm.shape[0]):
        row = [_cos(zm[i], keys[j]) / t for j in range(keys.shape[0])]
        m = max(row)
        lse = m + math.log(sum(math.exp(r - m) for r in row))
        total += -(float(lam[i]) * (row[i] - lse) + (1 - float(lam[i])) * (row[int(perm[i])] - lse))
    return total / zm.shape[0]


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 3.0])
def test_weighted_simclr_matches_loop_reference(alpha):
    z1, z2 = _rand(6, 5), _rand(6, 5, seed=1)
    assert float(weighted_simclr(z1, z2, 0.2, alpha)) == pytest.approx(weighted_simclr_ref(z1, z2, 0.2, alpha), rel=1e-9)


def test_weighted_simclr_alpha_zero_is_nt_xent():
    z1, z2 = _rand(8, 4, seed=2), _rand(8, 4, seed=3)
    assert float(weighted_simclr(z1, z2, 0.1, 0.0)) == pytest.approx(float(nt_xent(z1, z2, 0.1)), rel=1e-10)


def test_weighted_simclr_hard_negatives_raise_the_loss():
    # Up-weighting the most similar negatives can only increase the denominator's weight on them.
    z1, z2 = _rand(10, 3, seed=4), _rand(10, 3, seed=5)
    assert float(weighted_simclr(z1, z2, 0.2, 2.0)) > float(weighted_simclr(z1, z2, 0.2, 0.0))


def test_weighted_simclr_weights_get_no_gradient_but_embeddings_do():
    z1 = _rand(5, 4, seed=6).requires_grad_()
    z2 = _rand(5, 4, seed=7)
    weighted_simclr(z1, z2, 0.3, 1.0).backward()
    assert z1.grad is not None and torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0


@pytest.mark.parametrize("extra", [0, 3])
def test_mimix_loss_matches_loop_reference(extra):
    zm, keys = _rand(7, 5, seed=8), _rand(7 + extra, 5, seed=9)
    lam = torch.rand(7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    perm = torch.roll(torch.arange(7), 2)
    assert float(mimix_loss(zm, keys, lam, perm, 0.1)) == pytest.approx(mimix_ref(zm, keys, lam, perm, 0.1), rel=1e-9)


def test_mimix_lambda_one_is_info_nce_on_own_positive():
    zm, keys = _rand(6, 4, seed=10), _rand(6, 4, seed=11)
    perm = torch.roll(torch.arange(6), 1)
    got = mimix_loss(zm, keys, torch.ones(6, dtype=torch.float64), perm, 0.5)
    from ssl_core.losses.infonce import info_nce

    assert float(got) == pytest.approx(float(info_nce(zm, keys, 0.5)), rel=1e-10)


def test_mimix_targets_rows_sum_to_one_and_self_mix_collapses():
    lam = torch.tensor([0.3, 0.8, 0.5])
    t = mimix_targets(lam, torch.tensor([1, 2, 0]), 4)
    assert torch.allclose(t.sum(1), torch.ones(3))
    assert t[0, 0] == pytest.approx(0.3) and t[0, 1] == pytest.approx(0.7) and t[:, 3].abs().sum() == 0
    assert mimix_targets(lam, torch.arange(3), 3).diagonal().tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_mix_hidden_is_convex_combination_per_sample():
    h = _rand(4, 3, 2, seed=12)
    lam = torch.tensor([1.0, 0.0, 0.25, 0.5], dtype=torch.float64)
    perm = torch.tensor([1, 2, 3, 0])
    out = mix_hidden(h, lam, perm)
    assert torch.equal(out[0], h[0]) and torch.equal(out[1], h[2])
    assert torch.allclose(out[2], 0.25 * h[2] + 0.75 * h[3]) and torch.allclose(out[3], 0.5 * (h[3] + h[0]))
