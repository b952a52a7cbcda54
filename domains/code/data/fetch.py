"""Fetch an external code-search benchmark (mirror first, then its public source), checksum-checked, and convert
the published raw files to the benchmark JSONL (corpus.jsonl + queries_test.jsonl).

    python -m domains.code.data.fetch --benchmark cosqa_retrieval --out resources/code/cosqa_retrieval \
        [--mirror ../shared/data]

Conversions (they reproduce the mirror's derived JSONL byte for byte; checked in the tests):

- ``cosqa_retrieval``: ``raw/code_idx_map.txt`` maps each candidate's code to its index -> corpus rows
  ``{"cid": str(index), "code": code}`` in index order (code keeps its docstring, as in the original evaluation);
  ``raw/cosqa-retrieval-test-500.json`` -> ``{"qid": idx, "query": doc, "gold": str(index of its code)}``.
- ``csn_python_subset`` (CodeXGLUE format): corpus = test then valid functions, ``{"cid": url, "code":
  " ".join(code_tokens)}`` (docstring removed, as CodeSearchNet's tokens); queries = test functions,
  ``{"qid": url, "query": " ".join(docstring_tokens), "gold": url}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ssl_core.atomic import atomic_path, write_json
from ssl_core.errors import InputError, report_input_errors
from ssl_core.fetch import fetch_dataset, load_sources, mirror_from_env

__all__ = ["SOURCES", "convert", "main"]

SOURCES = Path(__file__).with_name("sources.tsv")


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _read_json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def convert(benchmark: str, directory: Path) -> dict[str, str]:
    """JSONL text of ``corpus.jsonl`` and ``queries_test.jsonl`` from the raw files in ``directory/raw``."""
    raw = directory / "raw"
    if benchmark == "cosqa_retrieval":
        index = json.loads((raw / "code_idx_map.txt").read_text(encoding="utf-8"))
        corpus = [{"cid": str(i), "code": c} for c, i in sorted(index.items(), key=lambda kv: kv[1])]
        test = json.loads((raw / "cosqa-retrieval-test-500.json").read_text(encoding="utf-8"))
        queries = [{"qid": r["idx"], "query": r["doc"], "gold": str(index[r["code"]])} for r in test]
    elif benchmark == "csn_python_subset":
        test, valid = _read_json_lines(raw / "test.jsonl"), _read_json_lines(raw / "valid.jsonl")
        corpus = [{"cid": r["url"], "code": " ".join(r["code_tokens"])} for r in test + valid]
        queries = [{"qid": r["url"], "query": " ".join(r["docstring_tokens"]), "gold": r["url"]} for r in test]
    else:
        raise InputError(f"unknown benchmark {benchmark!r}; known: cosqa_retrieval, csn_python_subset")
    return {"corpus.jsonl": _jsonl(corpus), "queries_test.jsonl": _jsonl(queries)}


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.code.data.fetch", description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmark", required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--mirror", default=None, help="mirror directory (default: $SSL_DATA_MIRROR)")
    args = p.parse_args(argv)
    status = fetch_dataset(load_sources(SOURCES), args.benchmark, args.out, mirror=mirror_from_env(args.mirror),
                           domain="code")
    for name, text in convert(args.benchmark, args.out).items():
        with atomic_path(args.out / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
    write_json(args.out / "fetch.json", status)
    print(json.dumps(status))


if __name__ == "__main__":
    main()
