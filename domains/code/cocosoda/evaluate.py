"""Score one retrieval benchmark: every query against the whole candidate pool, for BM25, the untrained encoder
and each trained variant; MRR and Recall@1/5/10.

    python -m domains.code.cocosoda.evaluate --benchmark resources/code/cosqa_retrieval --name cosqa_retrieval \
        --init results/code/train/cocosoda/encoder_init.pt --trained cocosoda=results/code/train/cocosoda/encoder.pt \
        [--trained pretrained=results/code/train/pretrained_cocosoda/encoder_init.pt] [--trained no_sda=...] \
        [--dev results/code/dev.json] --metrics results/code/cosqa_retrieval/metrics.json [--config ...] \
        [--hparams JSON]

BM25 is ``bm25s`` (Lucene variant, its default tokenizer and the configured stop words) over the candidates' raw
text (row ``bm25``) and over the candidates with identifiers split into words (row ``bm25_split``, the stronger
baseline: ``read_file`` matches the query word "file"); a query that tokenises to nothing (bm25s would crash)
scores 0 against every candidate. Neural rows embed queries and candidates (:func:`domains.code.cocosoda.model.
encode_texts`, each encoder file with its own tokenizer and token windows) and rank by cosine similarity; the row
``pretrained`` is the pretrained checkpoint before fine-tuning (zero-shot), ``pretrained_cocosoda`` after. The
rank of the gold candidate counts the candidates scoring strictly higher plus half of those tying with it (the
expected rank under random tie-breaking), so a method that scores everything equal gets the chance MRR, not a
perfect one.

``metrics.json``: the trained full model's ``mrr``, ``recall_at_1``, ``recall_at_5``, ``recall_at_10`` at the
top level, every row under ``rows`` (``bm25``, ``untrained``, ``cocosoda``, ``no_sda``, ...), the counts of
queries and candidates and of queries skipped for having no matching candidate. Extra row ``hybrid_rrf``:
reciprocal rank fusion (parameter-free, k = 60) of ``bm25_split`` and the dense row best on the dev split
(``--dev``: the ``dev.json`` of :mod:`domains.code.cocosoda.dev`; without it CoCoSoDa), reported beside, never
instead of, the required rows; ``hybrid_dense`` names its dense row. ``paired``: for each comparison of
:data:`COMPARISONS` whose two rows exist, keyed by the first, the MRR difference and its 95 % paired bootstrap
interval over queries (:func:`paired_bootstrap`, ``eval.bootstrap_samples`` resamples) and the verdict: ``win``
(interval above zero), ``loss`` (below) or ``tie``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from scipy.stats import rankdata

from domains.code.data.benchmark import Benchmark, load_benchmark
from domains.code.data.lexer import code_tokens, encoder_text, query_tokens, split_identifiers
from domains.code.cocosoda.model import encode_texts, load_encoders
from domains.code.settings import STAGE_PARTS
from ssl_core.atomic import write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.runtime import set_threads

__all__ = ["COMPARISONS", "gold_ranks", "retrieval_metrics", "paired_bootstrap", "bm25_scores", "encoder_scores",
           "named_path", "evaluate", "main"]

# (method, the row it must beat) of every target comparison; each gets a paired bootstrap interval.
COMPARISONS = (("cocosoda", "bm25_split"), ("pretrained_cocosoda", "pretrained"))


def gold_ranks(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """1-based rank of each query's gold candidate in its score row (ties count half)."""
    g = scores[np.arange(len(gold)), gold][:, None]
    higher = (scores > g).sum(1)
    ties = (scores == g).sum(1) - 1
    return 1.0 + higher + 0.5 * ties


def rrf_scores(*score_mats: np.ndarray, k: float = 60.0) -> np.ndarray:
    """Reciprocal rank fusion (Cormack et al., SIGIR 2009): sum over methods of ``1 / (k + rank)``, ranks within
    each query's row (ties get their average rank). No weight is fitted, so no split is used to tune it."""
    out = np.zeros_like(score_mats[0], dtype=np.float64)
    for s in score_mats:
        out += 1.0 / (k + rankdata(-s, method="average", axis=1))
    return out


def retrieval_metrics(ranks: np.ndarray) -> dict[str, float]:
    """MRR and Recall@1/5/10 from gold ranks."""
    return {"mrr": float(np.mean(1.0 / ranks)),
            **{f"recall_at_{k}": float(np.mean(ranks <= k)) for k in (1, 5, 10)}}


def paired_bootstrap(a: np.ndarray, b: np.ndarray, samples: int, seed: int = 0, level: float = 0.95,
                     chunk: int = 1000) -> dict[str, float | str]:
    """Paired bootstrap over queries of ``mean(a) - mean(b)``, where ``a`` and ``b`` are two systems' per-query
    scores on the same queries (reciprocal ranks: the MRR difference). Each of ``samples`` resamples draws the
    queries with replacement (``numpy.random.default_rng(seed).integers``, ``chunk`` resamples at a time) and
    takes the same queries for both systems; the interval is the percentile one at ``level``. ``verdict``: ``win``
    when the interval lies above zero, ``loss`` below, else ``tie``."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.ndim != 1 or not len(d):
        raise ValueError(f"paired_bootstrap needs two equal-length 1-D arrays, got difference shape {d.shape}")
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for start in range(0, samples, chunk):
        k = min(chunk, samples - start)
        means[start : start + k] = d[rng.integers(0, len(d), size=(k, len(d)))].mean(1)
    low, high = (float(x) for x in np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))
    return {"diff": float(d.mean()), "low": low, "high": high,
            "verdict": "win" if low > 0 else "loss" if high < 0 else "tie"}


def bm25_scores(bench: Benchmark, stopwords: str | None, split: bool = False) -> np.ndarray:
    """``(queries, candidates)`` BM25 scores (bm25s); empty queries score 0 everywhere. ``split``: candidates'
    identifiers are split into words first (``read_file``/``readFile`` -> ``read file``)."""
    codes = [split_identifiers(c) for c in bench.codes] if split else bench.codes
    corpus_tokens = bm25s.tokenize(codes, stopwords=stopwords, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus_tokens, show_progress=False)
    query_tokens_ = bm25s.tokenize(bench.queries, stopwords=stopwords, return_ids=False, show_progress=False)
    out = np.zeros((len(bench.queries), len(bench.codes)), dtype=np.float32)
    for i, toks in enumerate(query_tokens_):
        if toks:  # bm25s raises IndexError on a query with no tokens left
            out[i] = retriever.get_scores(toks)
    return out


def encoder_scores(path: Path, batch_size: int, texts: tuple[list[str], list[str]]
                   ) -> tuple[np.ndarray, dict[str, float]]:
    """Cosine scores of one saved encoder file (queries x candidates, with its tokenizer and windows), and its
    encode throughput (items/s)."""
    enc = load_encoders(path)
    t0 = time.perf_counter()
    ce = encode_texts(enc.code, enc.tokenizer, texts[1], enc.max_code_tokens, batch_size)
    t1 = time.perf_counter()
    qe = encode_texts(enc.query, enc.tokenizer, texts[0], enc.max_query_tokens, batch_size)
    t2 = time.perf_counter()
    speed = {"code_per_second": len(texts[1]) / (t1 - t0), "queries_per_second": len(texts[0]) / (t2 - t1)}
    return qe @ ce.T, speed


def evaluate(bench: Benchmark, init: Path | None, trained: dict[str, Path], hp: dict[str, Any],
             hybrid_dense: str | None = "cocosoda") -> dict[str, Any]:
    """Every row's metrics on ``bench`` (see the module docstring); ``hybrid_dense``: the dense row fused with
    ``bm25_split`` into ``hybrid_rrf`` (the dev split's choice; ``None`` or a row not given: no hybrid row)."""
    ranks: dict[str, np.ndarray] = {}
    gold = np.asarray(bench.gold)
    bm25 = {}
    for name, split in (("bm25", False), ("bm25_split", True)):
        bm25[name] = bm25_scores(bench, hp["eval"]["bm25_stopwords"], split)
        ranks[name] = gold_ranks(bm25[name], gold)
    speeds = {}
    if init is not None or trained:
        texts = ([encoder_text([t for _, t in query_tokens(q)]) for q in bench.queries],
                 [encoder_text([t for _, t in code_tokens(c)]) for c in bench.codes])
        for name, path in ([("untrained", init)] if init else []) + list(trained.items()):
            scores, speeds[name] = encoder_scores(path, hp["eval"]["batch_size"], texts)
            ranks[name] = gold_ranks(scores, gold)
            if name == hybrid_dense:  # extra row, never a replacement for the required ones
                ranks["hybrid_rrf"] = gold_ranks(rrf_scores(bm25["bm25_split"], scores), gold)
    rows = {name: retrieval_metrics(r) for name, r in ranks.items()}
    paired = {ours: {"vs": base, **paired_bootstrap(1.0 / ranks[ours], 1.0 / ranks[base],
                                                    hp["eval"]["bootstrap_samples"])}
              for ours, base in COMPARISONS if ours in ranks and base in ranks}
    main_row = "cocosoda" if "cocosoda" in rows else next(iter(trained), "bm25")
    return {"benchmark": bench.name, "method": main_row, **rows[main_row], "rows": rows, "paired": paired,
            "n_queries": len(bench.queries), "n_candidates": len(bench.codes), "skipped": bench.skipped,
            "encode_throughput": speeds,
            "hybrid_dense": hybrid_dense if "hybrid_rrf" in rows else None}


def named_path(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.code.cocosoda.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmark", required=True, type=Path, help="directory with corpus.jsonl and queries")
    p.add_argument("--name", default=None, help="benchmark name in the outputs (default: directory name)")
    p.add_argument("--init", type=Path, default=None, help="untrained encoder (encoder_init.pt)")
    p.add_argument("--trained", action="append", type=named_path, default=[],
                   help="ROW=encoder file (a trained variant, or pretrained=its encoder_init.pt)")
    p.add_argument("--dev", type=Path, default=None,
                   help="dev.json of the dev stage: its chosen row is the dense half of hybrid_rrf (default: cocosoda)")
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    set_threads(args.threads)
    hp = resolve_section(("code",), args.config, args.hparams, parts=STAGE_PARTS["evaluate"])
    bench = load_benchmark(args.benchmark, args.name)
    n = bench.skipped.get("no_matching_candidate", 0)
    if n:
        print(f"warning: {n} queries have no matching candidate in {args.benchmark / 'corpus.jsonl'}; skipped")
    hybrid = "cocosoda"
    if args.dev is not None:
        try:
            hybrid = json.loads(args.dev.read_text())["chosen"]
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"{args.dev}: not a dev.json of the dev stage (run it again)") from None
        if hybrid not in dict(args.trained):
            raise InputError(f"{args.dev}: chosen row {hybrid!r} is not among the --trained rows "
                             f"({', '.join(dict(args.trained)) or 'none'})")
    metrics = evaluate(bench, args.init, dict(args.trained), hp, hybrid)
    write_json(args.metrics, metrics)
    print(json.dumps({k: metrics[k] for k in ("benchmark", "mrr", "n_queries", "n_candidates")}))
    for name, row in metrics["rows"].items():
        print(f"{name}\t" + "\t".join(f"{k}={v:.4f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
