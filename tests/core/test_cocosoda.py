"""CoCoSoDa's loss against a slow loop reference written from the paper's equations."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.losses import cocosoda_loss


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _cos(u, v):
    return float(u @ v) / (float(u.norm()) * float(v.norm()))


def _nce_ref(anchors, keys, queue, t):
    """Mean over i of -log exp(s(a_i, k_i)) / (sum_j exp(s(a_i, k_j)) + sum_n exp(s(a_i, queue_n)))."""
    total = 0.0
    for i in range(anchors.shape[0]):
        logits = [_cos(anchors[i], keys[j]) / t for j in range(keys.shape[0])]
        logits += [_cos(anchors[i], queue[n]) / t for n in range(queue.shape[0])]
        total += -(logits[i] - math.log(sum(math.exp(x) for x in logits)))
    return total / anchors.shape[0]


def _ref(q, c, qk, ck, qq, cq, t, wi, wa):
    inter = 0.5 * (_nce_ref(q, ck, cq, t) + _nce_ref(c, qk, qq, t))
    intra = 0.5 * (_nce_ref(c, ck, cq, t) + _nce_ref(q, qk, qq, t))
    return wi * inter + wa * intra


@pytest.mark.parametrize("queue_len", [0, 5])
@pytest.mark.parametrize("weights", [(1.0, 1.0), (1.0, 0.0), (0.5, 2.0)])
def test_cocosoda_loss_matches_loop_reference(queue_len, weights):
    q, c, qk, ck = (_rand(6, 4, seed=s) for s in range(4))
    qq, cq = _rand(queue_len, 4, seed=10), _rand(queue_len, 4, seed=11)
    got, parts = cocosoda_loss(q, c, qk, ck, qq, cq, 0.2, *weights)
    assert float(got) == pytest.approx(_ref(q, c, qk, ck, qq, cq, 0.2, *weights), rel=1e-10)
    assert float(weights[0] * parts["inter"] + weights[1] * parts["intra"]) == pytest.approx(float(got), rel=1e-10)


def test_cocosoda_loss_without_queue_equals_empty_queue():
    q, c, qk, ck = (_rand(5, 3, seed=s) for s in range(4))
    a, _ = cocosoda_loss(q, c, qk, ck, None, None, 0.1)
    b, _ = cocosoda_loss(q, c, qk, ck, torch.zeros(0, 3, dtype=torch.float64), torch.zeros(0, 3, dtype=torch.float64), 0.1)
    assert float(a) == pytest.approx(float(b), rel=1e-12)


def test_cocosoda_loss_gradient_reaches_online_embeddings_only_through_inputs():
    q, c = _rand(4, 3).requires_grad_(), _rand(4, 3, seed=1).requires_grad_()
    loss, _ = cocosoda_loss(q, c, _rand(4, 3, seed=2), _rand(4, 3, seed=3), _rand(7, 3, seed=4), _rand(7, 3, seed=5))
    loss.backward()
    assert q.grad is not None and c.grad is not None and float(q.grad.abs().sum()) > 0


def test_cocosoda_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        cocosoda_loss(_rand(4, 3), _rand(5, 3), _rand(4, 3), _rand(4, 3))
