"""Retrieval benchmarks as JSONL, validated: ``corpus.jsonl`` and ``queries.jsonl`` in one directory.

Schema (one JSON object per line, extra fields allowed and ignored):

- ``corpus.jsonl``: ``cid`` (non-empty string, unique), ``code`` (string, not blank);
- ``queries.jsonl``: ``qid`` (non-empty string, unique), ``query`` (string), ``gold`` (the ``cid`` of the
  matching candidate: a non-empty string).

A malformed row (not JSON, not an object, a missing or wrongly typed field, a duplicate id) or an empty file is an
error naming the file and line. A query whose ``gold`` is not in the corpus is skipped with a counted warning
(benchmarks built as subsets often lose some candidates); the count is reported in the metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema

from ssl_core.errors import InputError

__all__ = ["CORPUS_SCHEMA", "QUERIES_SCHEMA", "Benchmark", "read_jsonl", "load_benchmark", "queries_file"]

_ID = {"type": "string", "minLength": 1}
CORPUS_SCHEMA = {"type": "object", "required": ["cid", "code"],
                 "properties": {"cid": _ID, "code": {"type": "string", "pattern": "\\S"}}}
QUERIES_SCHEMA = {"type": "object", "required": ["qid", "query", "gold"],
                  "properties": {"qid": _ID, "query": {"type": "string"}, "gold": _ID}}


@dataclass
class Benchmark:
    """Candidates and queries of one benchmark; ``gold[i]`` indexes ``codes``."""

    name: str
    cids: list[str]
    codes: list[str]
    qids: list[str]
    queries: list[str]
    gold: list[int]
    skipped: dict[str, int] = field(default_factory=dict)


def read_jsonl(path: Path, schema: dict, id_key: str) -> list[dict]:
    """Rows of a JSONL file checked against ``schema``; one-line :class:`InputError` naming file and line."""
    validator = jsonschema.Draft202012Validator(schema)
    rows, seen = [], set()
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        try:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}: line {n}: not valid JSON ({exc.msg})") from None
                err = jsonschema.exceptions.best_match(validator.iter_errors(row))
                if err is not None:
                    where = ".".join(str(p) for p in err.absolute_path)
                    raise InputError(f"{path}: line {n}: {where + ': ' if where else ''}{err.message}")
                if row[id_key] in seen:
                    raise InputError(f"{path}: line {n}: duplicate {id_key} {row[id_key]!r}")
                seen.add(row[id_key])
                rows.append(row)
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
    if not rows:
        raise InputError(f"{path}: empty benchmark file (no rows)")
    return rows


def queries_file(directory: Path) -> Path:
    """``queries.jsonl`` (user benchmarks, corpus test split) or ``queries_test.jsonl`` (fetched benchmarks)."""
    for name in ("queries.jsonl", "queries_test.jsonl"):
        if (directory / name).is_file():
            return directory / name
    raise InputError(f"{directory}: no queries.jsonl")


def load_benchmark(directory: Path, name: str | None = None) -> Benchmark:
    """Read and validate a benchmark directory; queries without a matching candidate are counted and skipped."""
    directory = Path(directory)
    if not (directory / "corpus.jsonl").is_file():
        raise InputError(f"{directory}: no corpus.jsonl")
    corpus = read_jsonl(directory / "corpus.jsonl", CORPUS_SCHEMA, "cid")
    queries = read_jsonl(queries_file(directory), QUERIES_SCHEMA, "qid")
    index = {r["cid"]: i for i, r in enumerate(corpus)}
    bench = Benchmark(name or directory.name, [r["cid"] for r in corpus], [r["code"] for r in corpus], [], [], [],
                      {"no_matching_candidate": 0})
    for r in queries:
        if r["gold"] not in index:
            bench.skipped["no_matching_candidate"] += 1
            continue
        bench.qids.append(r["qid"])
        bench.queries.append(r["query"])
        bench.gold.append(index[r["gold"]])
    if not bench.queries:
        raise InputError(f"{queries_file(directory)}: no query has its gold candidate in corpus.jsonl")
    return bench
