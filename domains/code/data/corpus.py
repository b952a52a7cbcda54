"""Build the docstring -> function training corpus from real Python source, the way CodeSearchNet was built.

    python -m domains.code.data.corpus --out results/code/corpus [--config ...] [--hparams JSON]

Each source file is parsed with ``ast``; every function or method with a docstring becomes one pair:
query = the docstring's first paragraph (whitespace collapsed), code = the function's source (decorators left
out, dedented) with the docstring removed. Filters, each a counted skip reported in ``stats.json`` and in the
log: files that are not UTF-8 or do not parse; test files; functions without a docstring, without a body beyond
the docstring, with a docstring shorter than ``min_query_words`` words, with fewer than ``min_code_lines``
non-blank lines; exact duplicates (same code after the docstring is removed). Files are split into
train/valid/test by a hash of their path (all functions of one file land in one split).

Sources: the running interpreter's standard library (``corpus.stdlib``), installed packages by import name
(``corpus.packages``) and directories (``corpus.directories``). ``corpus.heldout_packages`` of the packages, drawn
with ``corpus.seed`` (:func:`heldout_packages`), are held out whole: none of their functions is trained on,
validated on or in the file-level test split; they form the package-disjoint benchmark ``heldout_packages``.

Outputs in ``--out``: ``train.jsonl`` and ``valid.jsonl`` (id, query, code, file, name), the held-out test split
as a retrieval benchmark ``test/corpus.jsonl`` (cid, code) + ``test/queries.jsonl`` (qid, query, gold), the
held-out packages as ``heldout_packages/corpus.jsonl`` + ``queries.jsonl`` (when ``heldout_packages`` > 0), and
``stats.json`` (functions kept per split, the held-out packages, and skipped per reason).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import json
import random
import sys
import sysconfig
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ssl_core.atomic import atomic_path, write_json
from domains.code.settings import STAGE_PARTS
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors

__all__ = ["source_roots", "heldout_packages", "iter_source_files", "extract_functions", "split_of", "build_corpus",
           "main"]

SKIP_REASONS = ("not_utf8", "syntax_error", "test_file", "no_docstring", "no_body", "short_docstring",
                "tiny_function", "duplicate")


def source_roots(corpus_cfg: dict[str, Any]) -> list[tuple[str, Path]]:
    """(label, directory) of every source tree the config names; an unknown package or directory is an error."""
    roots: list[tuple[str, Path]] = []
    if corpus_cfg["stdlib"]:
        roots.append(("stdlib", Path(sysconfig.get_paths()["stdlib"])))
    for name in corpus_cfg["packages"]:
        spec = importlib.util.find_spec(name)
        if spec is None or not (spec.submodule_search_locations or spec.origin):
            raise InputError(f"config: code.corpus.packages: no installed package {name!r}")
        locs = list(spec.submodule_search_locations or [])
        roots.append((name, Path(locs[0]) if locs else Path(spec.origin)))
    for d in corpus_cfg["directories"]:
        if not Path(d).exists():
            raise InputError(f"config: code.corpus.directories: {d}: no such directory")
        roots.append((Path(d).name, Path(d)))
    if not roots:
        raise InputError("config: code.corpus: no source (stdlib false and no packages or directories)")
    return roots


def heldout_packages(corpus_cfg: dict[str, Any]) -> list[str]:
    """The ``heldout_packages`` of ``packages`` held out whole (a seeded draw from the sorted names, so the draw
    does not depend on the order they are listed in), sorted."""
    n, names = corpus_cfg["heldout_packages"], sorted(corpus_cfg["packages"])
    if n > len(names):
        raise InputError(f"config: code.corpus.heldout_packages: {n} packages held out, but only {len(names)} "
                         "in code.corpus.packages")
    return sorted(random.Random(corpus_cfg["seed"]).sample(names, n))


def _is_test_path(rel: Path) -> bool:
    parts = [p.lower() for p in rel.parts]
    name = parts[-1]
    return (any(p in ("test", "tests", "testing", "idle_test") for p in parts[:-1])
            or name.startswith("test_") or name.endswith("_test.py") or name in ("conftest.py", "test.py"))


def iter_source_files(label: str, root: Path) -> Iterator[tuple[str, Path]]:
    """(relative name, path) of every ``.py`` file under ``root``, sorted; site-packages below the stdlib left out."""
    if root.is_file():
        yield f"{label}/{root.name}", root
        return
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if label == "stdlib" and rel.parts and rel.parts[0] == "site-packages":
            continue
        yield f"{label}/{rel.as_posix()}", path


def first_paragraph(docstring: str) -> str:
    """The docstring's first paragraph with whitespace collapsed (the CodeSearchNet query)."""
    para = docstring.strip().split("\n\n")[0]
    return " ".join(para.split())


def extract_functions(text: str, counts: Counter, min_query_words: int, min_code_lines: int) -> list[dict[str, str]]:
    """(name, query, code) of every documented function or method in ``text`` passing the filters; the reasons
    for the others are added to ``counts``. Raises ``SyntaxError`` if ``text`` does not parse."""
    tree = ast.parse(text)
    lines = text.splitlines()
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node)
        if not doc:
            counts["no_docstring"] += 1
            continue
        body = node.body[1:]
        if not body or all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                                        and s.value.value is Ellipsis) for s in body):
            counts["no_body"] += 1
            continue
        query = first_paragraph(doc)
        if len(query.split()) < min_query_words:
            counts["short_docstring"] += 1
            continue
        ds = node.body[0]
        keep = [ln for i, ln in enumerate(lines[node.lineno - 1:node.end_lineno], start=node.lineno)
                if not ds.lineno <= i <= ds.end_lineno]
        code = textwrap.dedent("\n".join(keep)).strip("\n")
        if sum(1 for ln in code.splitlines() if ln.strip()) < min_code_lines:
            counts["tiny_function"] += 1
            continue
        out.append({"name": node.name, "query": query, "code": code})
    return out


def split_of(rel: str, valid: float, test: float, seed: int) -> str:
    """``train``, ``valid`` or ``test`` for one file, from a hash of its relative path (stable across runs)."""
    u = int(hashlib.sha256(f"{seed}:{rel}".encode()).hexdigest()[:12], 16) / 16**12
    return "test" if u < test else "valid" if u < test + valid else "train"


def build_corpus(hp: dict[str, Any], out: Path, log=sys.stdout) -> dict[str, Any]:
    """Extract, filter, de-duplicate and split; write the outputs (see the module docstring); return the stats."""
    cc = hp["corpus"]
    counts: Counter = Counter()
    rows: dict[str, list[dict[str, str]]] = {"train": [], "valid": [], "test": [], "heldout": []}
    seen: set[str] = set()
    n_files = 0
    heldout = heldout_packages(cc)
    for label, root in source_roots(cc):
        pool = ("heldout",) if label in heldout else ("train", "valid", "test")
        for rel, path in iter_source_files(label, root):
            if cc["skip_tests"] and _is_test_path(Path(rel)):
                counts["test_file"] += 1
                continue
            try:
                text = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                counts["not_utf8"] += 1
                print(f"warning: {path}: not UTF-8, skipped", file=log)
                continue
            try:
                funcs = extract_functions(text, counts, cc["min_query_words"], cc["min_code_lines"])
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                counts["syntax_error"] += 1
                print(f"warning: {path}: does not parse ({type(exc).__name__}), skipped", file=log)
                continue
            n_files += 1
            split = "heldout" if label in heldout else split_of(rel, cc["valid_fraction"], cc["test_fraction"],
                                                                 cc["seed"])
            for f in funcs:
                key = hashlib.sha1(" ".join(f["code"].split()).encode()).hexdigest()
                if key in seen:
                    counts["duplicate"] += 1
                    continue
                seen.add(key)
                rows[split].append({"id": f"{rel}::{f['name']}:{len(rows[split])}", **f, "file": rel})
            if cc["max_functions"] and sum(len(rows[k]) for k in pool) >= cc["max_functions"]:
                break
    if not rows["train"] or not rows["test"] or (heldout and not rows["heldout"]):
        raise InputError(f"code corpus: too few functions ({ {k: len(v) for k, v in rows.items()} }); add sources")
    for split in ("train", "valid"):
        _write_jsonl(out / f"{split}.jsonl", rows[split])
    for split, folder in (("test", "test"), ("heldout", "heldout_packages")):
        if rows[split]:
            _write_benchmark(out / folder, rows[split])
    stats = {
        "files_parsed": n_files,
        "kept": {k: len(v) for k, v in rows.items()},
        "heldout_packages": heldout,
        "skipped": {r: counts.get(r, 0) for r in SKIP_REASONS},
        "sources": [f"{label}={root}" for label, root in source_roots(cc)],
        "python": sys.version.split()[0],
    }
    for reason, n in stats["skipped"].items():
        if n:
            print(f"warning: skipped {n} {reason.replace('_', ' ')} item(s)", file=log)
    write_json(out / "stats.json", stats)
    return stats


def _write_benchmark(folder: Path, rows: list[dict[str, str]]) -> None:
    """A retrieval benchmark of corpus rows: each query's gold candidate is its own function."""
    _write_jsonl(folder / "corpus.jsonl", [{"cid": r["id"], "code": r["code"]} for r in rows])
    _write_jsonl(folder / "queries.jsonl", [{"qid": r["id"], "query": r["query"], "gold": r["id"]} for r in rows])


def _write_jsonl(dest: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(dest) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.code.data.corpus", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None, help="JSON override of the code config section")
    args = p.parse_args(argv)
    hp = resolve_section(("code",), args.config, args.hparams, parts=STAGE_PARTS["corpus"])
    stats = build_corpus(hp, args.out)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
