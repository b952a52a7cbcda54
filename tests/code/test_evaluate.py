"""Ranking metrics, the BM25 guard for empty queries, and the fetch conversion against the mirror's JSONL."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from domains.code.data.benchmark import Benchmark
from domains.code.cocosoda.evaluate import bm25_scores, gold_ranks, paired_bootstrap, retrieval_metrics
from domains.code.data.fetch import convert


def test_gold_ranks_counts_higher_and_half_ties():
    scores = np.array([[0.9, 0.5, 0.1], [0.2, 0.2, 0.2], [0.1, 0.3, 0.3]])
    np.testing.assert_allclose(gold_ranks(scores, np.array([0, 1, 2])), [1.0, 2.0, 1.5])


def test_retrieval_metrics_from_ranks():
    m = retrieval_metrics(np.array([1.0, 2.0, 6.0, 20.0]))
    assert m["mrr"] == pytest.approx((1 + 0.5 + 1 / 6 + 0.05) / 4)
    assert (m["recall_at_1"], m["recall_at_5"], m["recall_at_10"]) == (0.25, 0.5, 0.75)


def test_bm25_empty_query_scores_zero_instead_of_crashing():
    b = Benchmark("t", ["a", "b"], ["def read_file(path): return open(path).read()", "def sort_list(x): pass"],
                  ["1", "2", "3"], ["read file", "the of and", ""], [0, 1, 1])
    s = bm25_scores(b, "en")
    assert s[0, 0] > s[0, 1] and not s[1:].any()
    split = bm25_scores(b, "en", split=True)
    assert split[0, 0] > s[0, 0]  # "read_file" is one token unless identifiers are split


@pytest.mark.parametrize("benchmark", ["cosqa_retrieval", "csn_python_subset"])
def test_fetch_conversion_reproduces_mirror_files(mirror, benchmark):
    src = mirror / "code" / benchmark
    if not src.is_dir():
        pytest.skip(f"mirror has no code/{benchmark}")
    for name, text in convert(benchmark, src).items():
        assert hashlib.sha256(text.encode()).hexdigest() == hashlib.sha256((src / name).read_bytes()).hexdigest()


def _loop_reference(scores_a, scores_b, gold, samples, seed, level):
    """The paired bootstrap written out: per resample, draw the queries, rank each one's gold candidate in both
    systems by counting, take the MRR difference; then the percentile interval."""
    rng = np.random.default_rng(seed)
    n = len(gold)
    diffs = []
    for _ in range(samples):
        idx = rng.integers(0, n, size=n)
        mrr = []
        for scores in (scores_a, scores_b):
            total = 0.0
            for i in idx:
                g = scores[i][gold[i]]
                higher = sum(1 for s in scores[i] if s > g)
                ties = sum(1 for s in scores[i] if s == g) - 1
                total += 1.0 / (1 + higher + 0.5 * ties)
            mrr.append(total / n)
        diffs.append(mrr[0] - mrr[1])
    return np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])


def test_paired_bootstrap_matches_a_loop_reference_on_a_tiny_benchmark():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 12, size=9)
    a = rng.normal(size=(9, 12))
    a[np.arange(9), gold] += 1.0  # system a ranks the gold candidate higher
    b = np.round(rng.normal(size=(9, 12)), 1)  # ties in system b
    got = paired_bootstrap(1 / gold_ranks(a, gold), 1 / gold_ranks(b, gold), samples=300, seed=5, level=0.9, chunk=7)
    low, high = _loop_reference(a, b, gold, 300, 5, 0.9)
    assert got["low"] == pytest.approx(low, abs=1e-12) and got["high"] == pytest.approx(high, abs=1e-12)
    assert got["diff"] == pytest.approx(retrieval_metrics(gold_ranks(a, gold))["mrr"]
                                        - retrieval_metrics(gold_ranks(b, gold))["mrr"])
    assert got["verdict"] == ("win" if low > 0 else "loss" if high < 0 else "tie")


def test_paired_bootstrap_verdicts_and_identical_systems():
    rr = np.array([1.0, 0.5, 0.25, 1.0])
    same = paired_bootstrap(rr, rr, samples=200)
    assert (same["diff"], same["low"], same["high"], same["verdict"]) == (0.0, 0.0, 0.0, "tie")
    assert paired_bootstrap(rr, rr - 0.1, samples=200)["verdict"] == "win"
    assert paired_bootstrap(rr - 0.1, rr, samples=200)["verdict"] == "loss"
    with pytest.raises(ValueError):
        paired_bootstrap(rr, rr[:2], samples=200)
