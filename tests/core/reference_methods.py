"""Slow loop references for the methods added in issue 3, written straight from the papers' formulas.

Like reference.py they share no code with ssl_core: python floats, explicit loops, no masks.
"""

from __future__ import annotations

import math

import torch

from tests.core.reference import _cos, _log_softmax_entry


def _lse(vals: list[float]) -> float:
    m = max(vals)
    return m + math.log(sum(math.exp(v - m) for v in vals))


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / torch.linalg.vector_norm(v)


def dcl_ref(z1, z2, t, sigma=None) -> float:
    b = z1.shape[0]
    views = [z1, z2]
    if sigma is None:
        w = [1.0] * b
    else:
        e = [math.exp(_cos(z1[i], z2[i]) / sigma) for i in range(b)]
        w = [2 - x / (sum(e) / b) for x in e]
    total = 0.0
    for k in range(2):
        for i in range(b):
            pos = _cos(views[k][i], views[1 - k][i]) / t
            negs = [_cos(views[k][i], views[l][j]) / t for l in range(2) for j in range(b) if j != i]
            total += -w[i] * pos + _lse(negs)
    return total / (2 * b)


def mv_info_nce_ref(views, t, mode="joint") -> float:
    n_views, b = len(views), views[0].shape[0]
    total = 0.0
    if mode == "joint":
        for i in range(b):
            pos = [_cos(views[l][i], views[m][i]) / t for l in range(n_views) for m in range(n_views) if l != m]
            neg = [_cos(views[l][i], views[m][j]) / t for l in range(n_views) for m in range(n_views)
                   for j in range(b) if j != i]
            total += -(_lse(pos) - _lse(pos + neg))
        return total / b
    for l in range(n_views):
        for i in range(b):
            others = [(m, j) for m in range(n_views) for j in range(b) if (m, j) != (l, i)]
            row = [_cos(views[l][i], views[m][j]) / t for m, j in others]
            pos = [others.index((m, i)) for m in range(n_views) if m != l]
            total += -sum(_log_softmax_entry(row, p) for p in pos) / len(pos)
    return total / (n_views * b)


def moco_ref(q, k, negs, t, extra=None) -> float:
    total = 0.0
    for i in range(q.shape[0]):
        row = [_cos(q[i], k[i]) / t] + [_cos(q[i], negs[j]) / t for j in range(negs.shape[0])]
        if extra is not None:
            row += [_cos(q[i], extra[i, s]) / t for s in range(extra.shape[1])]
        total += -_log_softmax_entry(row, 0)
    return total / q.shape[0]


def mix_hard_negatives_ref(q, hardest, pair_index, alpha, query_index, beta):
    b = q.shape[0]
    out = []
    for i in range(b):
        rows = []
        for s in range(pair_index.shape[1]):
            a, c = int(pair_index[i, s, 0]), int(pair_index[i, s, 1])
            al = float(alpha[i, s])
            rows.append(_unit(al * hardest[i, a] + (1 - al) * hardest[i, c]))
        for s in range(query_index.shape[1]):
            be = float(beta[i, s])
            rows.append(_unit(be * _unit(q[i]) + (1 - be) * hardest[i, int(query_index[i, s])]))
        out.append(torch.stack(rows))
    return torch.stack(out)


def slerp_ref(a, b, lam):
    ua, ub = _unit(a), _unit(b)
    theta = math.acos(max(-1.0, min(1.0, float(torch.dot(ua, ub)))))
    return (math.sin(lam * theta) * ua + math.sin((1 - lam) * theta) * ub) / math.sin(theta)


def c_mixup_prob_ref(y, sigma, exclude_self=False):
    b = len(y)
    out = []
    for i in range(b):
        k = [0.0 if (exclude_self and j == i) else math.exp(-((y[i] - y[j]) ** 2) / (2 * sigma**2)) for j in range(b)]
        out.append([x / sum(k) for x in k])
    return out


def supremix_ref(z, y, t, neg_lam=0.5) -> float:
    b = z.shape[0]
    zn = [_unit(z[i]) for i in range(b)]
    y = [float(v) for v in y]
    losses = []
    for a in range(b):
        below = [j for j in range(b) if y[j] < y[a]]
        above = [j for j in range(b) if y[j] > y[a]]
        j = max(below, key=lambda x: (y[x], -x)) if below else None
        k = min(above, key=lambda x: (y[x], x)) if above else None
        pos_vecs = [zn[p] for p in range(b) if p != a and y[p] == y[a]]
        all_vecs = [zn[u] for u in range(b) if u != a]
        if j is not None and k is not None:
            mu = (y[k] - y[a]) / (y[k] - y[j])
            hp = mu * zn[j] + (1 - mu) * zn[k]
            pos_vecs.append(hp)
            all_vecs.append(hp)
        for nb in (j, k):
            if nb is not None:
                all_vecs.append(neg_lam * zn[a] + (1 - neg_lam) * zn[nb])
        if not pos_vecs:
            continue
        denom = _lse([_cos(zn[a], v) / t for v in all_vecs])
        losses.append(-sum(_cos(zn[a], p) / t - denom for p in pos_vecs) / len(pos_vecs))
    return sum(losses) / len(losses)


def barlow_ref(z1, z2, lam_off) -> float:
    def std(z):
        b, d = z.shape
        out = torch.empty_like(z)
        for c in range(d):
            col = [float(z[n, c]) for n in range(b)]
            mu = sum(col) / b
            sd = math.sqrt(sum((x - mu) ** 2 for x in col) / (b - 1))
            for n in range(b):
                out[n, c] = (col[n] - mu) / (sd + 1e-6)
        return out

    a, c = std(z1), std(z2)
    b, d = a.shape
    loss = 0.0
    for i in range(d):
        for j in range(d):
            cij = sum(float(a[n, i]) * float(c[n, j]) for n in range(b)) / b
            loss += (1 - cij) ** 2 if i == j else lam_off * cij**2
    return loss, a, c, std


def mixed_barlow_ref(z1, z2, zm, lam, perm, lam_off, scale) -> float:
    loss, a, c, std = barlow_ref(z1, z2, lam_off)
    m = std(zm)
    b, d = a.shape
    reg = 0.0
    for other in (a, c):
        for i in range(d):
            for j in range(d):
                cm = sum(float(m[n, i]) * float(other[n, j]) for n in range(b)) / b
                gt = sum((lam * float(a[n, i]) + (1 - lam) * float(c[int(perm[n]), i])) * float(other[n, j])
                         for n in range(b)) / b
                reg += (cm - gt) ** 2
    return loss + scale * lam_off * reg


def cwcl_ref(p, q, t, symmetric=True) -> float:
    b = p.shape[0]
    w = [[(1 + _cos(q[i], q[j])) / 2 for j in range(b)] for i in range(b)]
    s = [[_cos(p[i], q[j]) / t for j in range(b)] for i in range(b)]
    l1 = 0.0
    for i in range(b):
        l1 += -sum(w[i][j] * _log_softmax_entry(s[i], j) for j in range(b)) / sum(w[i])
    l1 /= b
    if not symmetric:
        return l1
    l2 = 0.0
    for j in range(b):
        col = [s[i][j] for i in range(b)]
        wc = [w[i][j] for i in range(b)]
        l2 += -sum(wc[i] * _log_softmax_entry(col, i) for i in range(b)) / sum(wc)
    l2 /= b
    return 0.5 * (l1 + l2)


def decoupled_ref(logits, ya, yb, lam, eta) -> float:
    b, c = logits.shape
    total = 0.0
    for i in range(b):
        row = [float(x) for x in logits[i]]
        a, bb, la = int(ya[i]), int(yb[i]), float(lam[i])
        total += -(la * _log_softmax_entry(row, a) + (1 - la) * _log_softmax_entry(row, bb))
        if a != bb and 0 < la < 1:
            keep_a = [k for k in range(c) if k != bb]
            keep_b = [k for k in range(c) if k != a]
            total += -eta * _log_softmax_entry([row[k] for k in keep_a], keep_a.index(a))
            total += -eta * _log_softmax_entry([row[k] for k in keep_b], keep_b.index(bb))
    return total / b


def i_mix_ref(mixed, keys, lam, perm, t, mixed_negatives=False) -> float:
    b = mixed.shape[0]
    total = 0.0
    for i in range(b):
        row = [_cos(mixed[i], keys[j]) / t for j in range(keys.shape[0])]
        if mixed_negatives:
            row += [_cos(mixed[i], mixed[j]) / t for j in range(b) if j != i]
        total += -(float(lam[i]) * _log_softmax_entry(row, i) + (1 - float(lam[i])) * _log_softmax_entry(row, int(perm[i])))
    return total / b
