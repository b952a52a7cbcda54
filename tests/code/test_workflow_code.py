"""The code-search workflow as a user runs it: tiny config, the corpus test split, a fetched benchmark and the
user's own benchmark (a real CoSQA subset); then a malformed user benchmark fails with one line."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.code.conftest import TINY
from tests.test_workflow import _snakemake


def _config(tmp_path, bench, benchmarks):
    cfg = tmp_path / "tiny.yaml"
    code = {**TINY, "corpus": {**TINY["corpus"], "packages": []}, "benchmarks": benchmarks,
            "user_benchmarks": {"mine": str(bench)}, "variants": ["cocosoda", "no_queue"]}
    cfg.write_text(yaml.safe_dump({"domains": ["code"], "code": code}))
    return cfg


@pytest.mark.slow
def test_code_tiny_run_end_to_end_with_user_benchmark(tmp_path, mirror, cosqa_subset):
    cfg = _config(tmp_path, cosqa_subset, ["corpus_test", "csn_python_subset"])
    proc = _snakemake(tmp_path, "--cores", "2", "--configfile", str(cfg), mirror=mirror, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for bench in ("corpus_test", "csn_python_subset", "mine"):
        m = json.loads((tmp_path / f"results/code/{bench}/metrics.json").read_text())
        assert set(m["rows"]) == {"bm25", "bm25_split", "untrained", "cocosoda", "no_queue", "hybrid_rrf"}
        assert 0 < m["mrr"] <= 1 and m["mrr"] == m["rows"]["cocosoda"]["mrr"]
        assert all(0 <= r["recall_at_1"] <= r["recall_at_5"] <= r["recall_at_10"] <= 1 for r in m["rows"].values())
    mine = json.loads((tmp_path / "results/code/mine/metrics.json").read_text())
    assert mine["n_queries"] == 30 and mine["n_candidates"] == len((cosqa_subset / "corpus.jsonl").read_text().splitlines())
    stats = json.loads((tmp_path / "results/code/corpus/stats.json").read_text())
    assert sum(stats["kept"].values()) >= 300 and stats["skipped"]["no_docstring"] > 0
    table = (tmp_path / "results/code/table.tsv").read_text().splitlines()
    assert table[0].startswith("benchmark\tmethod\tmrr") and len(table) == 1 + 3 * 6
    for fig in ("mrr.png", "training_curves.png"):
        assert (tmp_path / "results/code/figures" / fig).read_bytes()[:4] == b"\x89PNG"
    again = _snakemake(tmp_path, "-n", "--configfile", str(cfg), mirror=mirror)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_code_malformed_user_benchmark_fails_with_one_line(tmp_path, mirror, cosqa_subset):
    with open(cosqa_subset / "queries.jsonl", "a") as fh:
        fh.write('{"qid": "x", "query": "no gold here"}\n')
    cfg = _config(tmp_path, cosqa_subset, [])
    proc = _snakemake(tmp_path, "results/code/mine/metrics.json", "--cores", "1", "--configfile", str(cfg),
                      "--config", "code={'variants': []}", mirror=mirror, timeout=300)
    assert proc.returncode != 0
    log = (tmp_path / "logs/code/evaluate_mine.log").read_text().strip().splitlines()
    assert log == [f"error: {cosqa_subset / 'queries.jsonl'}: line 31: 'gold' is a required property"]
    assert not (tmp_path / "results/code/mine/metrics.json").exists()


def test_dry_run_with_code_domain_and_unsafe_benchmark_path(tmp_path):
    proc = _snakemake(tmp_path, "-n", "--config", "domains=[code]")
    assert proc.returncode == 0, proc.stderr
    assert "code_train" in proc.stdout and "code_fetch" in proc.stdout
    bad = _snakemake(tmp_path, "-n", "--config", "domains=[code]", "code={'user_benchmarks': {'x': 'a;rm'}}")
    assert bad.returncode != 0 and "code.user_benchmarks.x" in bad.stdout + bad.stderr
