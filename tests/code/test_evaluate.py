"""Ranking metrics, the BM25 guard for empty queries, and the fetch conversion against the mirror's JSONL."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from domains.code.data.benchmark import Benchmark
from domains.code.cocosoda.evaluate import bm25_scores, gold_ranks, retrieval_metrics
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
