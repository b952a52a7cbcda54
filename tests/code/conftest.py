"""Tiny settings and small real-data subsets for the code-search tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ssl_core.config import DEFAULT_CONFIG, deep_merge, load_config
from tests.conftest import REPO

TINY = {
    "corpus": {"max_functions": 300, "valid_fraction": 0.2, "test_fraction": 0.2, "heldout_packages": 0},
    "tokenizer": {"vocab_size": 300},
    "model": {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, "max_query_tokens": 16,
              "max_code_tokens": 32},
    "train": {"batch_size": 8, "epochs": 1, "ablation_epochs": 1, "steps_per_epoch": 3, "warmup_steps": 1,
              "queue_size": 32},
    "eval": {"batch_size": 64},
}


@pytest.fixture()
def cosqa_subset(tmp_path: Path, mirror: Path) -> Path:
    """A user benchmark cut from the real CoSQA files: 30 queries, their gold candidates and 70 others."""
    src = mirror / "code" / "cosqa_retrieval"
    if not src.is_dir():
        pytest.skip("mirror has no code/cosqa_retrieval")
    queries = [json.loads(x) for x in (src / "queries_test.jsonl").read_text().splitlines()[:30]]
    corpus = [json.loads(x) for x in (src / "corpus.jsonl").read_text().splitlines()]
    keep = {q["gold"] for q in queries} | {c["cid"] for c in corpus[:70]}
    d = tmp_path / "my_bench"
    d.mkdir()
    (d / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (d / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus if c["cid"] in keep))
    return d


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    """(directory with ``corpus/`` (first 300 stdlib functions) and the BPE tokenizer ``tok.json``, the resolved
    tiny ``code`` section), shared by the tests that train."""
    from domains.code.data.corpus import build_corpus

    d = tmp_path_factory.mktemp("code")
    hp = deep_merge(load_config([DEFAULT_CONFIG])["code"], TINY)
    hp["corpus"]["packages"] = []
    build_corpus(hp, d / "corpus")
    proc = subprocess.run([sys.executable, "-m", "domains.code.cocosoda.tokenizer", "--corpus", str(d / "corpus"), "--out",
                           str(d / "tok.json"), "--hparams", json.dumps(hp)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return d, hp
