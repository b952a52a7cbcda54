"""Mixup primitives: distributions, pairing and mixing on any dtype."""

from __future__ import annotations

import pytest
import torch

from ssl_core.mixup import mix, mixup, sample_lambda, sample_permutation


def test_sample_lambda_range_and_mean():
    torch.manual_seed(0)
    lam = sample_lambda(20000, 0.4, dtype=torch.float64)
    assert lam.shape == (20000,)
    assert float(lam.min()) >= 0.0 and float(lam.max()) <= 1.0
    # Beta(a, a) is symmetric about 0.5 with variance 1 / (4 (2a + 1)).
    assert float(lam.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(lam.var()) == pytest.approx(1 / (4 * 1.8), rel=0.05)


def test_sample_lambda_is_reproducible_with_seed():
    torch.manual_seed(3)
    a = sample_lambda(5, 0.2)
    torch.manual_seed(3)
    assert torch.equal(a, sample_lambda(5, 0.2))


def test_sample_lambda_with_a_generator_is_beta_and_leaves_the_global_generator_alone():
    torch.manual_seed(5)
    before = torch.get_rng_state()
    lam = sample_lambda(20000, 0.4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), before)
    assert float(lam.min()) >= 0.0 and float(lam.max()) <= 1.0
    assert float(lam.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(lam.var()) == pytest.approx(1 / (4 * 1.8), rel=0.05)
    again = sample_lambda(20000, 0.4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.equal(lam, again)


@pytest.mark.parametrize("alpha", [0.0, -0.5])
def test_sample_lambda_rejects_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        sample_lambda(3, alpha)


def test_permutation_is_a_permutation():
    torch.manual_seed(1)
    p = sample_permutation(50)
    assert sorted(p.tolist()) == list(range(50))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_mix_formula_any_dtype_and_shape(dtype):
    x = torch.arange(24, dtype=torch.float64).reshape(4, 3, 2).to(dtype)
    lam = torch.tensor([1.0, 0.0, 0.25, 0.5])
    perm = torch.tensor([1, 2, 3, 0])
    out = mix(x, lam, perm)
    assert out.dtype == dtype and out.shape == x.shape
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1], x[2])
    expected = 0.25 * x[2].double() + 0.75 * x[3].double()
    assert torch.allclose(out[2].double(), expected, atol=0.1 if dtype in (torch.float16, torch.bfloat16) else 1e-12)


def test_mix_does_not_modify_input():
    x = torch.randn(4, 3)
    before = x.clone()
    mix(x, torch.full((4,), 0.3), torch.tensor([3, 2, 1, 0]))
    assert torch.equal(x, before)


def test_mixup_prob_zero_leaves_batch_unchanged():
    torch.manual_seed(0)
    x = torch.randn(8, 5)
    out = mixup(x, 0.3, prob=0.0)
    assert torch.equal(out.lam, torch.ones(8))
    assert torch.allclose(out.mixed, x)


def test_mixup_returns_consistent_lambda_and_perm():
    torch.manual_seed(0)
    x = torch.randn(16, 5, dtype=torch.float64)
    out = mixup(x, 1.0)
    assert torch.allclose(out.mixed, mix(x, out.lam, out.perm))
    assert out.lam.dtype == torch.float64


def test_mixup_gradients_reach_both_sources():
    x = torch.randn(4, 3, requires_grad=True)
    out = mix(x, torch.tensor([0.5, 0.5, 0.5, 0.5]), torch.tensor([1, 0, 3, 2]))
    out.sum().backward()
    assert torch.allclose(x.grad, torch.ones(4, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
def test_mix_on_gpu_matches_cpu():
    x = torch.randn(8, 4)
    lam, perm = torch.rand(8), torch.randperm(8)
    assert torch.allclose(mix(x.cuda(), lam, perm).cpu(), mix(x, lam, perm), atol=1e-6)
