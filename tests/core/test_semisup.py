"""MixMatch / FixMatch losses against slow loop references written from the papers' formulas."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.losses import (
    balanced_pseudo_labels,
    distribution_alignment,
    fixmatch_loss,
    linear_rampup,
    masked_soft_cross_entropy,
    mixed_pseudo_label_loss,
    mixmatch_loss,
    pseudo_labels,
    sharpen,
)


def _softmax_row(row: list[float]) -> list[float]:
    m = max(row)
    e = [math.exp(v - m) for v in row]
    s = sum(e)
    return [v / s for v in e]


def sharpen_ref(p, t):
    out = []
    for row in p.tolist():
        powed = [v ** (1 / t) for v in row]
        s = sum(powed)
        out.append([v / s for v in powed])
    return torch.tensor(out, dtype=torch.float64)


def mixmatch_ref(lx, tx, lu, tu):
    loss_x = 0.0
    for logit, target in zip(lx.tolist(), tx.tolist()):
        p = _softmax_row(logit)
        loss_x += -sum(q * math.log(pi) for q, pi in zip(target, p))
    loss_u = 0.0
    n_classes = lu.shape[1]
    for logit, target in zip(lu.tolist(), tu.tolist()):
        p = _softmax_row(logit)
        loss_u += sum((q - pi) ** 2 for q, pi in zip(target, p))
    return loss_x / lx.shape[0], loss_u / (lu.shape[0] * n_classes)


def fixmatch_ref(weak, strong, tau):
    total = 0.0
    for w, s in zip(weak.tolist(), strong.tolist()):
        p = _softmax_row(w)
        conf = max(p)
        if conf >= tau:
            label = p.index(conf)
            total += -math.log(_softmax_row(s)[label])
    return total / weak.shape[0]


def _probs(n, c, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n, c, generator=g, dtype=torch.float64) * 2, dim=1)


@pytest.mark.parametrize("t", [0.5, 1.0, 0.25])
def test_sharpen_matches_reference(t):
    p = _probs(6, 5, 0)
    torch.testing.assert_close(sharpen(p, t), sharpen_ref(p, t))
    assert torch.allclose(sharpen(p, t).sum(1), torch.ones(6, dtype=torch.float64))


def test_sharpen_small_temperature_is_one_hot_and_stable():
    p = _probs(4, 3, 1)
    out = sharpen(p, 1e-3)
    assert torch.isfinite(out).all()
    assert torch.equal(out.argmax(1), p.argmax(1)) and (out.max(1).values > 0.999).all()
    with pytest.raises(ValueError):
        sharpen(p, 0.0)


def test_mixmatch_loss_matches_reference_and_gradients_flow():
    g = torch.Generator().manual_seed(2)
    lx = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    lu = torch.randn(7, 4, generator=g, dtype=torch.float64, requires_grad=True)
    tx, tu = _probs(5, 4, 3), _probs(7, 4, 4)
    loss_x, loss_u = mixmatch_loss(lx, tx, lu, tu)
    ref_x, ref_u = mixmatch_ref(lx.detach(), tx, lu.detach(), tu)
    assert loss_x.item() == pytest.approx(ref_x, rel=1e-10) and loss_u.item() == pytest.approx(ref_u, rel=1e-10)
    (loss_x + loss_u).backward()
    assert lx.grad.abs().sum() > 0 and lu.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        mixmatch_loss(lx, tx[:, :3], lu, tu)


@pytest.mark.parametrize("tau", [0.0, 0.5, 0.8, 1.0])
def test_fixmatch_loss_matches_reference(tau):
    g = torch.Generator().manual_seed(5)
    weak = torch.randn(9, 3, generator=g, dtype=torch.float64) * 3
    strong = torch.randn(9, 3, generator=g, dtype=torch.float64, requires_grad=True)
    loss, mask = fixmatch_loss(weak, strong, tau)
    assert loss.item() == pytest.approx(fixmatch_ref(weak, strong.detach(), tau), rel=1e-10, abs=1e-12)
    probs = torch.softmax(weak, 1)
    assert torch.equal(mask.bool(), probs.max(1).values >= tau)
    if mask.any():
        loss.backward()
        assert strong.grad.abs().sum() > 0


def test_pseudo_labels_carry_no_gradient_and_masked_ce_weights_rows():
    weak = torch.tensor([[5.0, 0.0], [0.0, 0.1]], requires_grad=True)
    labels, mask = pseudo_labels(weak, 0.9)
    assert labels.tolist() == [0, 1] and mask.tolist() == [1.0, 0.0] and not mask.requires_grad
    logits = torch.tensor([[1.0, 2.0], [0.5, 0.5]])
    targets = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    w = torch.tensor([0.5, 2.0])
    expected = 0
    for i in range(2):
        p = _softmax_row(logits[i].tolist())
        expected += w[i].item() * -sum(t * math.log(q) for t, q in zip(targets[i].tolist(), p))
    assert masked_soft_cross_entropy(logits, targets, w).item() == pytest.approx(expected / 2, rel=1e-6)
    with pytest.raises(ValueError):
        pseudo_labels(weak, 1.5)


def test_linear_rampup():
    assert [linear_rampup(s, 4) for s in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]
    assert linear_rampup(0, 0) == 1.0


def mixed_pseudo_label_ref(logits, labels, mask, lam, perm, partner_labels=None, partner_mask=None):
    """Loop over rows: the own pseudo-label's CE weighted lam * own mask, the partner's (1 - lam) * partner mask
    (partners: the same rows unless ``partner_labels`` / ``partner_mask`` are given)."""
    partner_labels = labels if partner_labels is None else partner_labels
    partner_mask = mask if partner_mask is None else partner_mask
    total = 0.0
    for i, row in enumerate(logits.tolist()):
        p = _softmax_row(row)
        j = int(perm[i])
        total += float(lam[i]) * float(mask[i]) * -math.log(p[int(labels[i])])
        total += (1 - float(lam[i])) * float(partner_mask[j]) * -math.log(p[int(partner_labels[j])])
    return total / logits.shape[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("labelled_partners", [False, True])
def test_mixed_pseudo_label_loss_matches_reference(seed, labelled_partners):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(8, 5, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(5, (8,), generator=g)
    mask = (torch.rand(8, generator=g) > 0.5).double()
    lam = torch.rand(8, generator=g, dtype=torch.float64)
    partners: tuple = ()
    if labelled_partners:  # partners drawn from 3 other (labelled) rows with their own labels and masks
        perm = torch.randint(3, (8,), generator=g)
        partners = (torch.tensor([4, 0, 2]), torch.ones(3, dtype=torch.float64))
    else:
        perm = torch.randperm(8, generator=g)
    loss = mixed_pseudo_label_loss(logits, labels, mask, lam, perm, *partners)
    ref = mixed_pseudo_label_ref(logits.detach(), labels, mask, lam, perm, *partners)
    assert loss.item() == pytest.approx(ref, rel=1e-10)
    loss.backward()
    assert logits.grad.abs().sum() > 0
    if labelled_partners:
        with pytest.raises(ValueError):
            mixed_pseudo_label_loss(logits, labels, mask, lam, perm, partners[0], partners[1][:2])


def test_mixed_pseudo_label_loss_ignores_unconfident_partners_and_reduces_to_mixup_ce():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [0.0, 1.0, 3.0]], dtype=torch.float64)
    labels, perm, lam = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0]), torch.tensor([0.7, 0.6, 0.9], dtype=torch.float64)
    # all confident: the usual mixup cross-entropy against mixed one-hot targets
    one_hot = torch.eye(3, dtype=torch.float64)[labels]
    targets = lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[perm]
    full = mixed_pseudo_label_loss(logits, labels, torch.ones(3, dtype=torch.float64), lam, perm)
    assert full.item() == pytest.approx(masked_soft_cross_entropy(logits, targets, torch.ones(3, dtype=torch.float64)).item())
    # row 1 unconfident: its label enters nowhere (not as row 0's partner either); changing it changes nothing
    mask = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    a = mixed_pseudo_label_loss(logits, labels, mask, lam, perm)
    b = mixed_pseudo_label_loss(logits, torch.tensor([0, 2, 2]), mask, lam, perm)
    assert a.item() == pytest.approx(b.item()) and a.item() < full.item()
    with pytest.raises(ValueError):
        mixed_pseudo_label_loss(logits, labels[:2], mask, lam, perm)


def distribution_alignment_ref(probs, prior, model_mean):
    out = []
    for row in probs.tolist():
        scaled = [p * q / m for p, q, m in zip(row, prior.tolist(), model_mean.tolist())]
        total = sum(scaled)
        out.append([v / total for v in scaled])
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_distribution_alignment_matches_reference(seed):
    probs = _probs(6, 4, seed)
    g = torch.Generator().manual_seed(seed + 10)
    prior = torch.softmax(torch.randn(4, generator=g, dtype=torch.float64), 0)
    model_mean = torch.softmax(torch.randn(4, generator=g, dtype=torch.float64), 0)
    out = distribution_alignment(probs, prior, model_mean)
    ref = torch.tensor(distribution_alignment_ref(probs, prior, model_mean), dtype=torch.float64)
    assert torch.allclose(out, ref, atol=1e-12)
    assert torch.allclose(out.sum(1), torch.ones(6, dtype=torch.float64))


def test_distribution_alignment_identity_and_shift_towards_underpredicted_class():
    probs = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]], dtype=torch.float64)
    uniform = torch.full((3,), 1 / 3, dtype=torch.float64)
    assert torch.allclose(distribution_alignment(probs, uniform, uniform), probs)
    # the model over-predicts class 0: aligned probabilities move mass to the other classes
    out = distribution_alignment(probs, uniform, torch.tensor([0.6, 0.2, 0.2], dtype=torch.float64))
    assert (out[:, 0] < probs[:, 0]).all() and (out[:, 1:] > probs[:, 1:]).all()
    with pytest.raises(ValueError):
        distribution_alignment(probs, uniform[:2], uniform)



def balanced_pseudo_labels_ref(probs: list[list[float]], fraction: float) -> list[tuple[int, int]]:
    """Loop reference: per class, the rows predicted as that class sorted by confidence, the first k."""
    k = int(round(fraction * len(probs) / len(probs[0])))
    out = []
    for c in range(len(probs[0])):
        members = [(max(row), i) for i, row in enumerate(probs) if row.index(max(row)) == c]
        members.sort(key=lambda t: -t[0])
        out.extend((i, c) for _, i in members[:k])
    return out


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 1.0])
def test_balanced_pseudo_labels_match_loop_reference(fraction):
    g = torch.Generator().manual_seed(3)
    # a skewed teacher: class 0 predicted far more often than the others
    probs = torch.softmax(torch.randn(40, 4, generator=g, dtype=torch.float64) + torch.tensor([1.5, 0, 0, -1.0],
                                                                                               dtype=torch.float64), 1)
    rows, labels = balanced_pseudo_labels(probs, fraction)
    expected = balanced_pseudo_labels_ref(probs.tolist(), fraction)
    assert list(zip(rows.tolist(), labels.tolist())) == expected
    counts = torch.bincount(labels, minlength=4)
    assert int(counts.max()) <= round(fraction * 40 / 4)  # no class floods the selection


def test_balanced_pseudo_labels_takes_the_most_confident_and_refuses_bad_input():
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55], [0.99, 0.01], [0.3, 0.7]])
    rows, labels = balanced_pseudo_labels(probs, 1 / 3)  # k = 1 per class
    assert rows.tolist() == [4, 2] and labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="fraction"):
        balanced_pseudo_labels(probs, 1.5)
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        balanced_pseudo_labels(probs[0], 0.5)
