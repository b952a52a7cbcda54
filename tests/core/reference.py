"""Slow reference implementations with explicit Python loops, written straight from the formulas.

They share no code with ssl_core on purpose: a mistake in a vectorised loss has to be made twice, in two
different styles, to go unnoticed.
"""

from __future__ import annotations

import math

import torch


def _cos(u: torch.Tensor, v: torch.Tensor) -> float:
    return float(torch.dot(u, v) / (torch.linalg.vector_norm(u) * torch.linalg.vector_norm(v)))


def _log_softmax_entry(row: list[float], j: int) -> float:
    m = max(row)
    return row[j] - (m + math.log(sum(math.exp(r - m) for r in row)))


def info_nce_ref(q, k, t, labels=None, key_labels=None, symmetric=False) -> float:
    if key_labels is None:
        key_labels = labels

    def one_way(a, b, la, lb):
        total = 0.0
        for i in range(a.shape[0]):
            row = [_cos(a[i], b[j]) / t for j in range(b.shape[0])]
            if la is None:
                pos = [i]
            else:
                pos = [j for j in range(b.shape[0]) if int(lb[j]) == int(la[i])]
            total += -sum(_log_softmax_entry(row, p) for p in pos) / len(pos)
        return total / a.shape[0]

    loss = one_way(q, k, labels, key_labels)
    if symmetric:
        loss = 0.5 * (loss + one_way(k, q, key_labels, labels))
    return loss


def nt_xent_ref(z1, z2, t, labels=None) -> float:
    z = torch.cat([z1, z2])
    n, b = z.shape[0], z1.shape[0]
    lab = None if labels is None else [int(x) for x in torch.cat([labels, labels])]
    total = 0.0
    for i in range(n):
        others = [j for j in range(n) if j != i]
        row = [_cos(z[i], z[j]) / t for j in others]
        if lab is None:
            pos = [(i + b) % n]
        else:
            pos = [j for j in others if lab[j] == lab[i]]
        total += -sum(_log_softmax_entry(row, others.index(p)) for p in pos) / len(pos)
    return total / n


def m3co_ref(mixed, other, lam, perm, t, bidirectional=False) -> float:
    b = mixed.shape[0]
    sims = [[_cos(mixed[i], other[j]) / t for j in range(b)] for i in range(b)]
    rows = 0.0
    for i in range(b):
        rows += -(float(lam[i]) * _log_softmax_entry(sims[i], i)
                  + (1 - float(lam[i])) * _log_softmax_entry(sims[i], int(perm[i])))
    rows /= b
    if not bidirectional:
        return rows
    cols = 0.0
    for j in range(b):
        col = [sims[i][j] for i in range(b)]
        # target weight of mixed sample i for column j: lam_i if i == j, plus (1 - lam_i) if perm[i] == j
        for i in range(b):
            w = (float(lam[i]) if i == j else 0.0) + ((1 - float(lam[i])) if int(perm[i]) == j else 0.0)
            if w:
                cols += -w * _log_softmax_entry(col, i)
    cols /= b
    return 0.5 * (rows + cols)


def soft_clip_ref(p, q, t) -> float:
    b = p.shape[0]
    tt = [[_cos(q[i], q[j]) / t for j in range(b)] for i in range(b)]
    soft = []
    for i in range(b):
        m = max(tt[i])
        e = [math.exp(x - m) for x in tt[i]]
        soft.append([x / sum(e) for x in e])
    pt = [[_cos(p[i], q[j]) / t for j in range(b)] for i in range(b)]
    l1 = -sum(soft[i][j] * _log_softmax_entry(pt[i], j) for i in range(b) for j in range(b)) / b
    ptt = [[pt[j][i] for j in range(b)] for i in range(b)]
    l2 = -sum(soft[i][j] * _log_softmax_entry(ptt[i], j) for i in range(b) for j in range(b)) / b
    return 0.5 * (l1 + l2)
