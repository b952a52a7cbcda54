"""Metrix and the three clean metric losses (ssl_core.losses.metrix) against explicit loop references written from
the formulas, against pytorch-metric-learning (when installed), and through the lambda in {0, 1} reductions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ssl_core.losses.metrix import (
    MetrixPairs,
    ProxyAnchorProxies,
    contrastive_loss,
    metrix_class_targets,
    metrix_contrastive_loss,
    metrix_loss,
    metrix_mix,
    metrix_multi_similarity_loss,
    metrix_pairs,
    metrix_proxy_anchor_loss,
    metrix_utilization,
    multi_similarity_loss,
    proxy_anchor_loss,
    soft_label_pair_loss,
    soft_label_pair_terms,
)

torch.set_num_threads(1)

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 1e-4, torch.float64: 1e-10}
# classes 0, 1, 2 have positives; 3, 4, 5 are singletons (anchors without a positive)
LABELS = torch.tensor([0, 0, 1, 1, 1, 2, 3, 4, 2, 5])
N_CLASSES = 6


def _rand(*shape, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)


def _unit(v: torch.Tensor) -> list[float]:
    v = [float(t) for t in v]
    n = math.sqrt(sum(t * t for t in v))
    return [t / n for t in v]


def _dist(u: list[float], v: list[float]) -> float:
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(u, v)))


def _dot(u: list[float], v: list[float]) -> float:
    return sum(a * b for a, b in zip(u, v))


def _avg_nonzero(terms: list[float]) -> float:
    nz = [t for t in terms if t > 0]
    return sum(nz) / len(nz) if nz else 0.0


# ------------------------------------------------------------------------------------------ loop references
def contrastive_ref(x, labels, mp=0.0, mn=0.5) -> float:
    z = [_unit(r) for r in x]
    pos, neg = [], []
    for i in range(len(z)):
        for j in range(len(z)):
            if i == j:
                continue
            d = _dist(z[i], z[j])
            if int(labels[i]) == int(labels[j]):
                pos.append(max(d - mp, 0.0))
            else:
                neg.append(max(mn - d, 0.0))
    return _avg_nonzero(pos) + _avg_nonzero(neg)


def ms_ref(x, labels, alpha=2.0, beta=50.0, base=0.5) -> float:
    z = [_unit(r) for r in x]
    total = 0.0
    for i in range(len(z)):
        sp = sum(math.exp(-alpha * (_dot(z[i], z[j]) - base)) for j in range(len(z))
                 if j != i and int(labels[j]) == int(labels[i]))
        sn = sum(math.exp(beta * (_dot(z[i], z[j]) - base)) for j in range(len(z)) if int(labels[j]) != int(labels[i]))
        total += math.log1p(sp) / alpha + math.log1p(sn) / beta
    return total / len(z)


def pa_soft_ref(x, targets, proxies, alpha=32.0, margin=0.1) -> float:
    """Proxy anchor with soft class labels targets[k][c] (one-hot rows: the clean loss)."""
    z = [_unit(r) for r in x]
    p = [_unit(r) for r in proxies]
    pos_sum, neg_sum, with_pos = 0.0, 0.0, 0
    for c in range(len(p)):
        sp = sum(targets[k][c] * math.exp(-alpha * (_dot(z[k], p[c]) - margin)) for k in range(len(z)))
        sn = sum((1 - targets[k][c]) * math.exp(alpha * (_dot(z[k], p[c]) + margin)) for k in range(len(z)))
        with_pos += any(targets[k][c] > 0 for k in range(len(z)))
        pos_sum += math.log1p(sp)
        neg_sum += math.log1p(sn)
    return pos_sum / with_pos + neg_sum / len(p)


def pa_ref(x, labels, proxies, alpha=32.0, margin=0.1) -> float:
    onehot = [[1.0 if int(labels[k]) == c else 0.0 for c in range(proxies.shape[0])] for k in range(x.shape[0])]
    return pa_soft_ref(x, onehot, proxies, alpha, margin)


def mixed_contrastive_ref(anchors, mixed, anchor_idx, y, mp=0.0, mn=0.5) -> float:
    pos, neg = [], []
    for k in range(mixed.shape[0]):
        d = _dist(_unit(anchors[int(anchor_idx[k])]), _unit(mixed[k]))
        pos.append(float(y[k]) * max(d - mp, 0.0))
        neg.append((1 - float(y[k])) * max(mn - d, 0.0))
    return _avg_nonzero(pos) + _avg_nonzero(neg)


def mixed_ms_ref(anchors, mixed, anchor_idx, y, alpha=2.0, beta=50.0, base=0.5) -> float:
    total = 0.0
    for a in range(anchors.shape[0]):
        sp = sn = 0.0
        for k in range(mixed.shape[0]):
            if int(anchor_idx[k]) != a:
                continue
            s = _dot(_unit(anchors[a]), _unit(mixed[k]))
            sp += float(y[k]) * math.exp(-alpha * (s - base))
            sn += (1 - float(y[k])) * math.exp(beta * (s - base))
        total += math.log1p(sp) / alpha + math.log1p(sn) / beta
    return total / anchors.shape[0]


def pairs_ref(labels, scheme) -> list[tuple[int, int, int]]:
    lab = [int(v) for v in labels]
    b = len(lab)
    out = []
    for a in range(b):
        positives = [p for p in range(b) if p != a and lab[p] == lab[a]]
        negatives = [n for n in range(b) if lab[n] != lab[a]]
        if positives and scheme in ("both", "pos_neg"):
            out += [(a, p, n) for p in positives for n in negatives]
        if not positives and scheme in ("both", "anchor_neg"):
            out += [(a, a, n) for n in negatives]
    return out


def utilization_ref(q, x) -> float:
    return sum(min(_dist(list(map(float, qi)), list(map(float, xj))) ** 2 for xj in x) for qi in q) / q.shape[0]


def _triples(pairs: MetrixPairs) -> list[tuple[int, int, int]]:
    return list(zip(pairs.anchor.tolist(), pairs.first.tolist(), pairs.second.tolist()))


# -------------------------------------------------------------------------------------- clean vs references
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margins", [(0.0, 0.5), (0.3, 1.2)])
def test_contrastive_matches_loop_reference(dtype, margins):
    x = _rand(10, 4, dtype=dtype, seed=1)
    got = contrastive_loss(x, LABELS, *margins)
    assert got.dtype == dtype
    ref = contrastive_ref(x.double(), LABELS, *margins)
    assert ref > 0
    assert float(got) == pytest.approx(ref, rel=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", [(2.0, 50.0, 0.5), (17.97, 75.66, 0.77)])
def test_multi_similarity_matches_loop_reference(dtype, params):
    x = _rand(10, 4, dtype=dtype, seed=2)
    got = multi_similarity_loss(x, LABELS, *params)
    assert got.dtype == dtype
    assert float(got) == pytest.approx(ms_ref(x.double(), LABELS, *params), rel=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_proxy_anchor_matches_loop_reference(dtype):
    x, proxies = _rand(10, 4, dtype=dtype, seed=3), _rand(8, 4, dtype=dtype, seed=4)  # classes 6, 7 absent
    got = proxy_anchor_loss(x, LABELS, proxies)
    assert got.dtype == dtype
    assert float(got) == pytest.approx(pa_ref(x.double(), LABELS, proxies.double()), rel=TOL[dtype])


def test_contrastive_closed_form_on_two_antipodal_classes():
    # Class 0 at +e1 (twice), class 1 at -e1 (twice): positives at distance 0, negatives at 2 > 0.5: loss 0.
    # Class 1 at +e2 instead: negatives at sqrt(2), so with neg_margin 2 every negative term is 2 - sqrt(2).
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    lab = torch.tensor([0, 0, 1, 1])
    assert float(contrastive_loss(x, lab)) == 0.0
    x2 = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=torch.float64)  # negatives at sqrt 2
    assert float(contrastive_loss(x2, lab, 0.0, 2.0)) == pytest.approx(2 - math.sqrt(2), rel=1e-12)


# --------------------------------------------------------------------------- pytorch-metric-learning equality
@pytest.fixture(scope="module")
def pml():
    return pytest.importorskip("pytorch_metric_learning.losses", reason="pytorch-metric-learning (bench extra)")


@pytest.mark.parametrize("dtype", DTYPES)
def test_clean_losses_equal_pml(pml, dtype):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(48, 16, generator=g, dtype=torch.float64).to(dtype)  # 48 rows: cdist takes its mm path
    y = torch.randint(6, (48,), generator=g)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    ours = float(contrastive_loss(x, y))
    assert ours > 0
    assert ours == pytest.approx(float(pml.ContrastiveLoss(pos_margin=0, neg_margin=0.5)(x, y)), rel=tol)
    assert float(multi_similarity_loss(x, y)) == pytest.approx(float(pml.MultiSimilarityLoss()(x, y)), rel=tol)
    pa = pml.ProxyAnchorLoss(num_classes=6, embedding_size=16)
    proxies = pa.proxies.detach().clone()
    assert float(proxy_anchor_loss(x, y, proxies)) == pytest.approx(float(pa(x, y).detach()), rel=tol)


def test_proxy_anchor_gradients_equal_pml(pml):
    g = torch.Generator().manual_seed(6)
    x = torch.randn(20, 8, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(4, (20,), generator=g)
    pa = pml.ProxyAnchorLoss(num_classes=5, embedding_size=8)
    pa(x, y).backward()
    gx, gp = x.grad.clone(), pa.proxies.grad.clone()
    x.grad = None
    proxies = pa.proxies.detach().clone().requires_grad_()
    proxy_anchor_loss(x, y, proxies).backward()
    torch.testing.assert_close(x.grad, gx, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(proxies.grad, gp, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------ mixed losses vs references
def _mixed_setup(dtype, scheme="both", seed=7, lam=None):
    x = _rand(10, 4, dtype=dtype, seed=seed)
    pairs = metrix_pairs(LABELS, 2.0, scheme=scheme, lam=lam, generator=torch.Generator().manual_seed(seed))
    return x, pairs, metrix_mix(x, pairs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scheme", ["both", "pos_neg", "anchor_neg"])
def test_metrix_contrastive_matches_loop_reference(dtype, scheme):
    x, pairs, mixed = _mixed_setup(dtype, scheme)
    assert 0 < float(pairs.lam) < 1
    got = metrix_contrastive_loss(x, mixed, pairs, 0.0, 1.0)
    ref = mixed_contrastive_ref(x.double(), mixed.double(), pairs.anchor, pairs.target, 0.0, 1.0)
    assert ref > 0
    assert float(got) == pytest.approx(ref, rel=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scheme", ["both", "pos_neg", "anchor_neg"])
def test_metrix_multi_similarity_matches_loop_reference(dtype, scheme):
    x, pairs, mixed = _mixed_setup(dtype, scheme)
    got = metrix_multi_similarity_loss(x, mixed, pairs)
    assert got.dtype == dtype
    assert float(got) == pytest.approx(mixed_ms_ref(x.double(), mixed.double(), pairs.anchor, pairs.target),
                                       rel=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_metrix_proxy_anchor_matches_loop_reference(dtype):
    x, pairs, mixed = _mixed_setup(dtype)
    proxies = _rand(N_CLASSES, 4, dtype=dtype, seed=8)
    lam = float(pairs.lam)
    targets = [[lam * (int(LABELS[f]) == c) + (1 - lam) * (int(LABELS[s]) == c) for c in range(N_CLASSES)]
               for f, s in zip(pairs.first.tolist(), pairs.second.tolist())]
    got = metrix_proxy_anchor_loss(mixed, pairs, LABELS, proxies)
    assert float(got) == pytest.approx(pa_soft_ref(mixed.double(), targets, proxies.double()), rel=TOL[dtype])
    torch.testing.assert_close(metrix_class_targets(pairs, LABELS, N_CLASSES), torch.tensor(targets,
                                                                                            dtype=torch.float64))


def test_fractional_labels_activate_both_terms():
    # With 0 < lam < 1 a mixed example is partly positive: dropping either term changes the MS loss.
    x, pairs, mixed = _mixed_setup(torch.float64, "pos_neg")
    full = float(metrix_multi_similarity_loss(x, mixed, pairs))
    only_pos = MetrixPairs(pairs.lam, pairs.anchor, pairs.first, pairs.second, torch.ones_like(pairs.target))
    only_neg = MetrixPairs(pairs.lam, pairs.anchor, pairs.first, pairs.second, torch.zeros_like(pairs.target))
    for other in (only_pos, only_neg):
        assert abs(float(metrix_multi_similarity_loss(x, mixed, other)) - full) > 1e-3


# ------------------------------------------------------------------------------ lambda in {0, 1} reductions
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_lambda_extremes_reduce_to_clean_losses_pml(pml, dtype, lam):
    """Positive-negative mixing with lam = 1 gives back the positive of each (a, p, n), with lam = 0 the negative:
    the mixed term is then the clean loss on those (a, x) pairs (counted once per triple)."""
    x, pairs, mixed = _mixed_setup(dtype, "pos_neg", seed=9, lam=lam)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    src = pairs.first if lam == 1.0 else pairs.second
    torch.testing.assert_close(mixed, x[src], rtol=0, atol=0)
    a, k = pairs.anchor, torch.arange(pairs.anchor.shape[0])
    empty = torch.empty(0, dtype=torch.long)
    pair_tuple = (a, src, empty, empty) if lam == 1.0 else (empty, empty, a, src)
    ref_tuple = (a, k, empty, empty) if lam == 1.0 else (empty, empty, a, k)

    ours_c = float(metrix_contrastive_loss(x, mixed, pairs))
    assert ours_c > 0
    ref_c = pml.ContrastiveLoss(pos_margin=0, neg_margin=0.5)(x, LABELS, indices_tuple=pair_tuple)
    assert ours_c == pytest.approx(float(ref_c), rel=tol)

    ours_ms = float(metrix_multi_similarity_loss(x, mixed, pairs))
    ref_ms = pml.MultiSimilarityLoss()(x, LABELS, indices_tuple=ref_tuple, ref_emb=mixed)
    assert ours_ms == pytest.approx(float(ref_ms), rel=tol)

    pa = pml.ProxyAnchorLoss(num_classes=N_CLASSES, embedding_size=4)
    ours_pa = float(metrix_proxy_anchor_loss(mixed, pairs, LABELS, pa.proxies.detach().clone()))
    assert ours_pa == pytest.approx(float(pa(x[src], LABELS[src]).detach()), rel=tol)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_lambda_extremes_reduce_to_clean_losses_without_pml(lam):
    x, pairs, mixed = _mixed_setup(torch.float64, "pos_neg", seed=10, lam=lam)
    src = pairs.first if lam == 1.0 else pairs.second
    proxies = _rand(N_CLASSES, 4, seed=11)
    assert float(metrix_proxy_anchor_loss(mixed, pairs, LABELS, proxies)) == pytest.approx(
        float(proxy_anchor_loss(x[src], LABELS[src], proxies)), rel=1e-12)
    # contrastive: only the term of the side that is present survives, on the pairs (a, src)
    d = [_dist(_unit(x[int(a)]), _unit(x[int(s)])) for a, s in zip(pairs.anchor, src)]
    terms = [max(v, 0.0) for v in d] if lam == 1.0 else [max(0.5 - v, 0.0) for v in d]
    assert float(metrix_contrastive_loss(x, mixed, pairs)) == pytest.approx(_avg_nonzero(terms), rel=1e-12)


def test_anchor_negative_lambda_zero_is_clean_negative_term(pml):
    x, pairs, mixed = _mixed_setup(torch.float64, "anchor_neg", seed=12, lam=0.0)
    empty = torch.empty(0, dtype=torch.long)
    ref = pml.ContrastiveLoss(pos_margin=0, neg_margin=0.5)(x, LABELS, indices_tuple=(empty, empty, pairs.anchor,
                                                                                        pairs.second))
    got = float(metrix_contrastive_loss(x, mixed, pairs))
    assert got > 0
    assert got == pytest.approx(float(ref), rel=1e-12)


# ------------------------------------------------------------------------------------- generic formulation
def test_generic_formulation_gives_the_three_losses():
    x = _rand(10, 4, seed=13)
    z = F.normalize(x, dim=1)
    b = x.shape[0]
    ii, jj = torch.meshgrid(torch.arange(b), torch.arange(b), indexing="ij")
    off = ii != jj
    ai, xj = ii[off], jj[off]
    y = (LABELS[ai] == LABELS[xj]).double()
    s = (z[ai] * z[xj]).sum(1)
    # multi-similarity: rho+ = e^{-a(s-b)}, rho- = e^{b(s-b)}, sigma = log(1+.)/a
    ms = soft_label_pair_loss(s, ai, y, b, lambda t: torch.exp(-2 * (t - 0.5)), lambda t: torch.exp(50 * (t - 0.5)),
                              lambda t: torch.log1p(t) / 2, lambda t: torch.log1p(t) / 50)
    assert float(ms) == pytest.approx(float(multi_similarity_loss(x, LABELS)), rel=1e-12)
    # contrastive: rho+ = [d]_+, rho- = [1.2 - d]_+, identity sigma, normalised by the non-zero counts
    d = (z[ai] - z[xj]).norm(dim=1)
    pos, neg = soft_label_pair_terms(d, ai, y, b, F.relu, lambda t: F.relu(1.2 - t))
    n_pos, n_neg = int(((y * d) > 0).sum()), int(((1 - y) * F.relu(1.2 - d) > 0).sum())
    assert n_pos > 0 and n_neg > 0
    assert float(pos.sum() / n_pos + neg.sum() / n_neg) == pytest.approx(
        float(contrastive_loss(x, LABELS, 0.0, 1.2)), rel=1e-12)
    # proxy anchor: proxies are the anchors, every sample a pair with every proxy, y = [label == c]
    proxies = _rand(N_CLASSES, 4, seed=14)
    c_idx, k_idx = torch.meshgrid(torch.arange(N_CLASSES), torch.arange(b), indexing="ij")
    c_idx, k_idx = c_idx.flatten(), k_idx.flatten()
    sp = (F.normalize(proxies, dim=1)[c_idx] * z[k_idx]).sum(1)
    yp = (LABELS[k_idx] == c_idx).double()
    pos, neg = soft_label_pair_terms(sp, c_idx, yp, N_CLASSES, lambda t: torch.exp(-32 * (t - 0.1)),
                                     lambda t: torch.exp(32 * (t + 0.1)), torch.log1p, torch.log1p)
    pa = pos.sum() / len(torch.unique(LABELS)) + neg.sum() / N_CLASSES
    assert float(pa) == pytest.approx(float(proxy_anchor_loss(x, LABELS, proxies)), rel=1e-12)


def test_generic_formulation_gives_metrix_multi_similarity():
    x, pairs, mixed = _mixed_setup(torch.float64)
    s = (F.normalize(x, dim=1)[pairs.anchor] * F.normalize(mixed, dim=1)).sum(1)
    generic = soft_label_pair_loss(s, pairs.anchor, pairs.target, x.shape[0], lambda t: torch.exp(-2 * (t - 0.5)),
                                   lambda t: torch.exp(50 * (t - 0.5)), lambda t: torch.log1p(t) / 2,
                                   lambda t: torch.log1p(t) / 50)
    assert float(generic) == pytest.approx(float(metrix_multi_similarity_loss(x, mixed, pairs)), rel=1e-12)


def test_stable_forms_survive_large_exponents():
    # exponents up to alpha * (1 + base) = 300 * 1.9 = 570: exp overflows float32 (max ~e^88), not float64
    x = _rand(10, 4, dtype=torch.float32, seed=15)
    s = F.normalize(x, dim=1) @ F.normalize(x, dim=1).T
    assert not torch.isfinite(torch.exp(-300.0 * (s - 0.9))).all()
    got = multi_similarity_loss(x, LABELS, alpha=300.0, beta=300.0, base=0.9)
    assert torch.isfinite(got)
    assert float(got) == pytest.approx(ms_ref(x.double(), LABELS, 300.0, 300.0, 0.9), rel=1e-4)


# ------------------------------------------------------------------------------------------- mixing pairs
@pytest.mark.parametrize("scheme", ["both", "pos_neg", "anchor_neg"])
def test_pairs_match_loop_reference(scheme):
    pairs = metrix_pairs(LABELS, 2.0, scheme=scheme, generator=torch.Generator().manual_seed(0))
    assert sorted(_triples(pairs)) == sorted(pairs_ref(LABELS, scheme))
    lab = LABELS
    assert bool((lab[pairs.anchor] == lab[pairs.first]).all()) and bool((lab[pairs.anchor] != lab[pairs.second]).all())
    torch.testing.assert_close(pairs.target, pairs.lam.expand_as(pairs.target))
    assert pairs.lam.dtype == torch.float64 and pairs.lam.ndim == 0


def test_both_scheme_gives_every_anchor_pairs_and_union_of_schemes():
    both = metrix_pairs(LABELS, lam=0.3)
    assert set(both.anchor.tolist()) == set(range(len(LABELS)))
    union = _triples(metrix_pairs(LABELS, lam=0.3, scheme="pos_neg")) + _triples(
        metrix_pairs(LABELS, lam=0.3, scheme="anchor_neg"))
    assert sorted(_triples(both)) == sorted(union)


def test_lambda_is_seeded_by_the_generator_and_beta_distributed():
    lam = [float(metrix_pairs(LABELS, 2.0, generator=torch.Generator().manual_seed(s)).lam) for s in range(3)]
    again = [float(metrix_pairs(LABELS, 2.0, generator=torch.Generator().manual_seed(s)).lam) for s in range(3)]
    assert lam == again and len(set(lam)) == 3
    g = torch.Generator().manual_seed(123)
    small = torch.tensor([0, 0, 1])
    draws = torch.tensor([float(metrix_pairs(small, 2.0, generator=g).lam) for _ in range(3000)])
    # Beta(2, 2): mean 1/2, variance 1 / (4 (2 alpha + 1)) = 0.05; the standard error of the mean is 0.004
    assert float(draws.mean()) == pytest.approx(0.5, abs=0.02)
    assert float(draws.var()) == pytest.approx(0.05, abs=0.006)
    draws_small_alpha = torch.tensor([float(metrix_pairs(small, 0.2, generator=g).lam) for _ in range(2000)])
    assert float(draws_small_alpha.var()) == pytest.approx(1 / (4 * 1.4), abs=0.02)


def test_n_hardest_keeps_the_nearest_negatives():
    x = _rand(10, 4, seed=16)
    pairs = metrix_pairs(LABELS, lam=0.5, n_hardest=1, embeddings=x)
    z = [_unit(r) for r in x]
    expected = []
    for a, p, _ in pairs_ref(LABELS, "both"):
        negs = [n for n in range(10) if int(LABELS[n]) != int(LABELS[a])]
        expected.append((a, p, min(negs, key=lambda n: _dist(z[a], z[n]))))
    assert sorted(set(_triples(pairs))) == sorted(set(expected))
    assert len(_triples(pairs)) == len(set(expected))
    two = metrix_pairs(LABELS, lam=0.5, n_hardest=2, embeddings=x)
    per_anchor = torch.bincount(two.anchor[two.first == two.anchor], minlength=10)  # anchor-negative rows
    assert per_anchor[[6, 7, 9]].tolist() == [2, 2, 2]


def test_mix_works_on_inputs_features_and_embeddings():
    pairs = metrix_pairs(LABELS, lam=0.3)
    images = _rand(10, 3, 5, 5, seed=17)
    mixed = metrix_mix(images, pairs)
    assert mixed.shape == (pairs.anchor.shape[0], 3, 5, 5)
    for k in (0, 7, mixed.shape[0] - 1):
        expected = 0.3 * images[int(pairs.first[k])] + 0.7 * images[int(pairs.second[k])]
        torch.testing.assert_close(mixed[k], expected, rtol=1e-12, atol=1e-12)
    # for a linear map, mixing the inputs or the outputs is the same: the pairs line up at every level
    w = _rand(75, 6, seed=18)
    torch.testing.assert_close(metrix_mix(images.flatten(1) @ w, pairs), metrix_mix(images, pairs).flatten(1) @ w)


# -------------------------------------------------------------------------------------------- total loss
@pytest.mark.parametrize("loss", ["contrastive", "multi_similarity", "proxy_anchor"])
def test_metrix_loss_is_clean_plus_weighted_mixed(loss):
    x = _rand(10, 4, seed=19)
    proxies = _rand(N_CLASSES, 4, seed=20)
    total = metrix_loss(x, LABELS, loss, proxies=proxies, generator=torch.Generator().manual_seed(3))
    pairs = metrix_pairs(LABELS, 2.0, generator=torch.Generator().manual_seed(3))
    mixed = metrix_mix(F.normalize(x, dim=1), pairs)
    if loss == "contrastive":
        clean, mix_term = contrastive_loss(x, LABELS), metrix_contrastive_loss(x, mixed, pairs)
    elif loss == "multi_similarity":
        clean, mix_term = multi_similarity_loss(x, LABELS), metrix_multi_similarity_loss(x, mixed, pairs)
    else:
        clean = proxy_anchor_loss(x, LABELS, proxies)
        mix_term = metrix_proxy_anchor_loss(mixed, pairs, LABELS, proxies)
    assert float(mix_term) > 0
    assert float(total) == pytest.approx(float(clean + 0.4 * mix_term), rel=1e-12)
    assert float(metrix_loss(x, LABELS, loss, proxies=proxies, weight=0.0)) == pytest.approx(float(clean), rel=1e-12)


def test_metrix_loss_with_input_mixing_uses_the_given_mixed_embeddings():
    images = _rand(10, 12, seed=21)
    w = _rand(12, 4, seed=22).requires_grad_()
    pairs = metrix_pairs(LABELS, lam=0.6, scheme="pos_neg")
    emb, mixed = images @ w, metrix_mix(images, pairs) @ w
    total = metrix_loss(emb, LABELS, "multi_similarity", pairs=pairs, mixed=mixed, weight=0.4, alpha=2.0,
                        beta=40.0, base=0.6)
    expected = multi_similarity_loss(emb, LABELS, 2.0, 40.0, 0.6) + 0.4 * metrix_multi_similarity_loss(
        emb, mixed, pairs, 2.0, 40.0, 0.6)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    total.backward()
    assert w.grad is not None and float(w.grad.abs().sum()) > 0


# ---------------------------------------------------------------------------------------------- gradients
def test_gradcheck_clean_losses():
    x = _rand(8, 3, seed=23).requires_grad_()
    lab = torch.tensor([0, 0, 1, 1, 2, 2, 2, 3])
    proxies = _rand(4, 3, seed=24).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: contrastive_loss(t, lab, 0.1, 1.0), (x,))
    assert torch.autograd.gradcheck(lambda t: multi_similarity_loss(t, lab, 2.0, 10.0, 0.3), (x,))
    assert torch.autograd.gradcheck(lambda t, p: proxy_anchor_loss(t, lab, p, 4.0, 0.1), (x, proxies))


def test_gradcheck_mixed_losses():
    x = _rand(10, 3, seed=25).requires_grad_()
    pairs = metrix_pairs(LABELS, lam=0.35)
    m = metrix_mix(x.detach(), pairs).requires_grad_()
    proxies = _rand(N_CLASSES, 3, seed=26).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, v: metrix_contrastive_loss(a, v, pairs, 0.1, 1.0), (x, m))
    assert torch.autograd.gradcheck(lambda a, v: metrix_multi_similarity_loss(a, v, pairs, 2.0, 10.0, 0.3), (x, m))
    assert torch.autograd.gradcheck(lambda v, p: metrix_proxy_anchor_loss(v, pairs, LABELS, p, 4.0, 0.1),
                                    (m, proxies))
    # and through the mixing itself (embedding-level Metrix)
    assert torch.autograd.gradcheck(lambda a: metrix_loss(a, LABELS, "multi_similarity", pairs=pairs, alpha=2.0,
                                                          beta=10.0, base=0.3), (x,))


# -------------------------------------------------------------------------------------------- utilization
def test_utilization_matches_loop_reference_and_properties():
    q, x = _rand(7, 3, seed=27), _rand(11, 3, seed=28)
    got = metrix_utilization(q, x, chunk_size=3)
    assert float(got) == pytest.approx(utilization_ref(q, x), rel=1e-10)
    assert float(metrix_utilization(q, x)) == pytest.approx(float(got), rel=1e-12)
    assert float(metrix_utilization(q[:4], torch.cat([x, q]))) == pytest.approx(0.0, abs=1e-12)
    # more (e.g. mixed) training examples can only lower it
    extra = metrix_mix(x, metrix_pairs(torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]), lam=0.5))
    assert float(metrix_utilization(q, torch.cat([x, extra]))) < float(got)


def test_proxy_module_initialisation_and_forward():
    mod = ProxyAnchorProxies(100, 64, generator=torch.Generator().manual_seed(0))
    again = ProxyAnchorProxies(100, 64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(mod.proxies, again.proxies)
    # kaiming_normal_(mode="fan_out") on (C, D): std sqrt(2 / C)
    assert float(mod.proxies.detach().std()) == pytest.approx(math.sqrt(2 / 100), rel=0.05)
    small = ProxyAnchorProxies(N_CLASSES, 4, alpha=16.0, margin=0.2)
    x = _rand(10, 4, dtype=torch.float32, seed=29)
    assert small(x, LABELS).item() == pytest.approx(proxy_anchor_loss(x, LABELS, small.proxies, 16.0, 0.2).item())


# ---------------------------------------------------------------------------------------------- bad input
_X = _rand(10, 4, seed=30)
_P = metrix_pairs(LABELS, lam=0.5)
_ONE_CLASS = torch.zeros(10, dtype=torch.long)
_DISTINCT = torch.arange(10)
_SAME_PAIRS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])

BAD = {
    "embeddings not 2-D": (lambda: contrastive_loss(_X[0], LABELS), "embeddings must be"),
    "labels wrong length": (lambda: multi_similarity_loss(_X, LABELS[:5]), "labels must be an integer tensor"),
    "float labels": (lambda: contrastive_loss(_X, LABELS.double()), "labels must be an integer tensor"),
    "one class contrastive": (lambda: contrastive_loss(_X, _ONE_CLASS), "at least two classes"),
    "one class ms": (lambda: multi_similarity_loss(_X, _ONE_CLASS), "at least two classes"),
    "one class pairs": (lambda: metrix_pairs(_ONE_CLASS), "at least two classes"),
    "negative pos margin": (lambda: contrastive_loss(_X, LABELS, -0.1, 0.5), "margins must satisfy"),
    "neg margin below pos": (lambda: contrastive_loss(_X, LABELS, 0.5, 0.4), "margins must satisfy"),
    "neg margin above 2": (lambda: metrix_contrastive_loss(_X, metrix_mix(_X, _P), _P, 0.0, 2.5),
                           "margins must satisfy"),
    "ms alpha": (lambda: multi_similarity_loss(_X, LABELS, alpha=0.0), "alpha must be > 0"),
    "ms base": (lambda: metrix_multi_similarity_loss(_X, metrix_mix(_X, _P), _P, base=1.5), "base must be"),
    "pa margin": (lambda: proxy_anchor_loss(_X, LABELS, _rand(6, 4), margin=1.0), "margin must be in"),
    "pa alpha": (lambda: proxy_anchor_loss(_X, LABELS, _rand(6, 4), alpha=-1.0), "alpha must be > 0"),
    "pa labels out of range": (lambda: proxy_anchor_loss(_X, LABELS, _rand(5, 4)), r"class indices in \[0, 5\)"),
    "pa proxies wrong dim": (lambda: proxy_anchor_loss(_X, LABELS, _rand(6, 3)), "proxies must be"),
    "mixup alpha zero": (lambda: metrix_pairs(LABELS, 0.0), "alpha must be > 0"),
    "mixup alpha negative": (lambda: metrix_loss(_X, LABELS, mix_alpha=-2.0), "alpha must be > 0"),
    "lam out of range": (lambda: metrix_pairs(LABELS, lam=1.5), r"lam must be in \[0, 1\]"),
    "unknown scheme": (lambda: metrix_pairs(LABELS, scheme="random"), "scheme must be"),
    "pos_neg without positives": (lambda: metrix_pairs(_DISTINCT, scheme="pos_neg"), "no mixing pair"),
    "anchor_neg all positives": (lambda: metrix_pairs(_SAME_PAIRS, scheme="anchor_neg"), "no mixing pair"),
    "n_hardest without embeddings": (lambda: metrix_pairs(LABELS, n_hardest=1), "n_hardest needs embeddings"),
    "mixed wrong rows": (lambda: metrix_contrastive_loss(_X, _X, _P), "mixed must be"),
    "weight negative": (lambda: metrix_loss(_X, LABELS, weight=-0.1), "weight must be >= 0"),
    "proxy anchor without proxies": (lambda: metrix_loss(_X, LABELS, "proxy_anchor"), "needs proxies"),
    "unknown loss": (lambda: metrix_loss(_X, LABELS, "triplet"), "loss must be"),
    "mixed without pairs": (lambda: metrix_loss(_X, LABELS, mixed=_X), "need the pairs"),
    "soft labels out of [0, 1]": (lambda: soft_label_pair_terms(torch.zeros(2), torch.zeros(2, dtype=torch.long),
                                                                torch.tensor([0.5, 1.5]), 1, F.relu, F.relu),
                                  r"must lie in \[0, 1\]"),
    "utilization dims": (lambda: metrix_utilization(_X, _rand(3, 5)), "same D"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_raises_one_clear_value_error(case):
    fn, match = BAD[case]
    with pytest.raises(ValueError, match=match):
        fn()


def test_metrix_names_are_exported_from_ssl_core():
    import ssl_core

    for name in ("contrastive_loss", "multi_similarity_loss", "proxy_anchor_loss", "ProxyAnchorProxies",
                 "metrix_pairs", "metrix_mix", "metrix_loss", "metrix_utilization", "soft_label_pair_loss"):
        assert name in ssl_core.__all__
    assert ssl_core.metrix_loss is metrix_loss
