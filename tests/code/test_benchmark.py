"""User benchmarks: schema errors name file and line, empty files are errors, missing gold is a counted skip;
the evaluate CLI fails with one line, exit 2 and no metrics file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domains.code.data.benchmark import CORPUS_SCHEMA, load_benchmark, read_jsonl
from ssl_core.errors import InputError
from tests.conftest import REPO


def _write(d, corpus, queries):
    d.mkdir(exist_ok=True)
    (d / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (d / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    return d


CORPUS = [{"cid": "a", "code": "def f(x):\n    return x"}, {"cid": "b", "code": "def g():\n    pass"}]
QUERIES = [{"qid": "1", "query": "identity", "gold": "a"}, {"qid": "2", "query": "nothing", "gold": "b"}]


def test_valid_benchmark_loads(tmp_path):
    b = load_benchmark(_write(tmp_path / "b", CORPUS, QUERIES))
    assert b.gold == [0, 1] and b.codes[1] == "def g():\n    pass" and b.skipped == {"no_matching_candidate": 0}


def test_query_without_matching_candidate_is_counted_and_skipped(tmp_path):
    q = QUERIES + [{"qid": "3", "query": "lost", "gold": "zzz"}]
    b = load_benchmark(_write(tmp_path / "b", CORPUS, q))
    assert b.qids == ["1", "2"] and b.skipped["no_matching_candidate"] == 1


@pytest.mark.parametrize(
    ("corpus", "queries", "file", "message"),
    [
        (CORPUS + [{"cid": "a", "code": "x = 1"}], QUERIES, "corpus.jsonl", "line 3: duplicate cid 'a'"),
        ([{"cid": "a"}], QUERIES, "corpus.jsonl", "line 1: 'code' is a required property"),
        (CORPUS, [{"qid": "1", "query": 5, "gold": "a"}], "queries.jsonl", "line 1: query: 5 is not of type 'string'"),
        (CORPUS, [], "queries.jsonl", "empty benchmark file (no rows)"),
        ([], QUERIES, "corpus.jsonl", "empty benchmark file (no rows)"),
        (CORPUS, [{"qid": "1", "query": "q", "gold": "nope"}], "queries.jsonl", "no query has its gold candidate in corpus.jsonl"),
    ],
)
def test_malformed_benchmark_is_one_line_error_naming_file_and_line(tmp_path, corpus, queries, file, message):
    d = _write(tmp_path / "b", corpus, queries)
    with pytest.raises(InputError) as exc:
        load_benchmark(d)
    assert str(exc.value) == f"{d / file}: {message}"


def test_not_json_line(tmp_path):
    d = _write(tmp_path / "b", CORPUS, QUERIES)
    with open(d / "queries.jsonl", "a") as fh:
        fh.write("{not json\n")
    with pytest.raises(InputError, match=r"queries.jsonl: line 3: not valid JSON"):
        load_benchmark(d)


def test_evaluate_cli_malformed_benchmark_exit_2_one_line_no_output(tmp_path):
    d = _write(tmp_path / "b", CORPUS, [{"qid": "1", "query": "q"}])
    metrics = tmp_path / "out" / "metrics.json"
    proc = subprocess.run([sys.executable, "-m", "domains.code.cocosoda.evaluate", "--benchmark", str(d), "--metrics",
                           str(metrics)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {d / 'queries.jsonl'}: line 1: 'gold' is a required property"]
    assert not metrics.exists() and not list(tmp_path.glob("out/*"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), st.builds(json.dumps, st.dictionaries(
    st.sampled_from(["cid", "code", "x"]), st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=3))),
    max_size=6))
def test_read_jsonl_property_rows_or_one_line_input_error(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("p") / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        rows = read_jsonl(path, CORPUS_SCHEMA, "cid")
    except InputError as exc:
        msg = str(exc)
        assert msg.startswith(f"{path}: ") and "\n" not in msg
    else:
        assert rows and all(isinstance(r["cid"], str) and r["cid"] and r["code"].strip() for r in rows)
        assert len({r["cid"] for r in rows}) == len(rows)
