"""The code-search workflow as a user runs it: tiny config, the corpus test split, a fetched benchmark and the
user's own benchmark (a real CoSQA subset), then a forced rerun of one training job and a rerun after a training
setting was edited; a malformed user benchmark fails with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from domains.code.cocosoda.train import train
from ssl_core.config import resolve_section
from tests.code.conftest import TINY
from tests.conftest import REPO
from tests.faults import restarted_with_reason
from tests.test_workflow import _snakemake

COCOSODA = "results/code/train/cocosoda"


def _trained(out: Path) -> tuple[dict[str, torch.Tensor], tuple[float, float]]:
    """(encoder weights, (final loss, final validation MRR)) of one training output directory."""
    blob = torch.load(out / "encoder.pt", map_location="cpu", weights_only=True)
    run = json.loads((out / "run.json").read_text())
    return ({f"{t}.{k}": v for t in ("query", "code") for k, v in blob[t].items()},
            (run["final_loss"], run["final_valid_mrr"]))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _config(tmp_path, bench, benchmarks):
    cfg = tmp_path / "tiny.yaml"
    code = {**TINY, "corpus": {**TINY["corpus"], "packages": ["click"], "heldout_packages": 1}, "benchmarks": benchmarks,
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

    # snakemake -f on one training job: trained again from scratch (a finished run is never resumed) to the same
    # weights and metrics; the evaluations that used it are still there.
    weights, metrics = _trained(tmp_path / COCOSODA)
    forced = _snakemake(tmp_path, "-f", f"{COCOSODA}/encoder.pt", "--cores", "1", "--configfile", str(cfg),
                        mirror=mirror, timeout=600)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "belongs to a finished run" in (tmp_path / "logs/code/train_cocosoda.log").read_text()
    again_weights, again_metrics = _trained(tmp_path / COCOSODA)
    assert again_metrics == metrics and _same(again_weights, weights)
    for bench in ("corpus_test", "csn_python_subset", "mine"):
        assert (tmp_path / f"results/code/{bench}/metrics.json").is_file()

    # An edited training setting: the job trains from scratch (its log names the key) and ends where the stage,
    # run directly with the new setting into a fresh directory, ends.
    edit = tmp_path / "lr.yaml"
    edit.write_text(yaml.safe_dump({"code": {"train": {"lr": 0.002}}}))
    edited = _snakemake(tmp_path, f"{COCOSODA}/run.json", "--cores", "2", "--configfile", str(cfg), str(edit),
                        mirror=mirror, timeout=600)
    assert edited.returncode == 0, edited.stderr[-3000:]
    assert "rule code_corpus" not in edited.stdout + edited.stderr  # only the jobs that read the setting rerun
    assert restarted_with_reason(tmp_path / "logs/code/train_cocosoda.log", "train.lr")
    hp = resolve_section(("code",), [cfg, edit], None)
    assert hp["train"]["lr"] == 0.002
    train(tmp_path / "results/code/corpus", tmp_path / "results/code/tokenizer.json", "cocosoda", hp,
          tmp_path / "fresh", threads=1, progress=False)
    new_weights, new_metrics = _trained(tmp_path / COCOSODA)
    fresh_weights, fresh_metrics = _trained(tmp_path / "fresh")
    assert new_metrics == fresh_metrics and _same(new_weights, fresh_weights) and new_metrics != metrics


def test_code_malformed_user_benchmark_fails_with_one_line(tmp_path, mirror, cosqa_subset):
    with open(cosqa_subset / "queries.jsonl", "a") as fh:
        fh.write('{"qid": "x", "query": "no gold here"}\n')
    cfg = _config(tmp_path, cosqa_subset, [])
    proc = _snakemake(tmp_path, "results/code/mine/metrics.json", "--cores", "1", "--configfile", str(cfg),
                      "--config", "code={'variants': []}", mirror=mirror, timeout=300)
    assert proc.returncode != 0
    log = (tmp_path / "logs/code/evaluate_mine.log").read_text().strip().splitlines()
    # the job's log: the stage file that ran (every stage names it), then the one-line error
    assert log[0] == f"source: {REPO / 'domains/code/cocosoda/evaluate.py'}"
    assert log[1:] == [f"error: {cosqa_subset / 'queries.jsonl'}: line 31: 'gold' is a required property"]
    assert not (tmp_path / "results/code/mine/metrics.json").exists()


def test_dry_run_with_code_domain_and_unsafe_benchmark_path(tmp_path):
    proc = _snakemake(tmp_path, "-n", "--config", "domains=[code]")
    assert proc.returncode == 0, proc.stderr
    assert "code_train" in proc.stdout and "code_fetch" in proc.stdout
    bad = _snakemake(tmp_path, "-n", "--config", "domains=[code]", "code={'user_benchmarks': {'x': 'a;rm'}}")
    assert bad.returncode != 0 and "code.user_benchmarks.x" in bad.stdout + bad.stderr
