"""Corpus building: what is kept, what is skipped (and counted), how files are split."""

from __future__ import annotations

import json

import pytest

from domains.code.data.corpus import build_corpus, extract_functions, first_paragraph, heldout_packages, split_of
from ssl_core.config import load_config
from collections import Counter

GOOD = '''
def add_numbers(a, b):
    """Add two numbers and return the sum.

    More text that is not part of the query.
    """
    total = a + b
    check = total
    return total


class Box:
    def size(self):
        """Return the number of items held in the box."""
        n = len(self.items)
        n += 0
        return n

    def stub(self):
        """A method whose only statement is its docstring."""

    def short(self):
        """Hi."""
        x = 1
        y = 2
        return x + y

    def tiny(self):
        """Return one, always, whatever happens."""
        return 1

    def nodoc(self):
        x = 1
        return x
'''


def test_extract_functions_removes_docstring_and_counts_skips():
    counts = Counter()
    funcs = extract_functions(GOOD, counts, min_query_words=3, min_code_lines=3)
    assert [f["name"] for f in funcs] == ["add_numbers", "size"]
    add = funcs[0]
    assert add["query"] == "Add two numbers and return the sum."
    assert '"""' not in add["code"] and add["code"].startswith("def add_numbers(a, b):\n    total = a + b")
    assert funcs[1]["code"].startswith("def size(self):")  # dedented method
    assert counts == Counter(no_body=1, short_docstring=1, tiny_function=1, no_docstring=1)


def test_first_paragraph_collapses_whitespace():
    assert first_paragraph("  Do   this\n  and that.\n\n  Details.") == "Do this and that."


def _hp(tmp_path, **corpus):
    hp = load_config([__import__("ssl_core.config").config.DEFAULT_CONFIG])["code"]
    hp["corpus"] = {**hp["corpus"], "stdlib": False, "packages": [], "directories": [str(tmp_path / "src")], "test_fraction": 0.5,
                    "valid_fraction": 0.0, "heldout_packages": 0, **corpus}
    return hp


def test_build_corpus_counts_bad_files_and_splits_by_file(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):
        (src / f"mod{i}.py").write_text(GOOD.replace("add_numbers", f"add_numbers_{i}").replace("len(self.items)", f"len(self.items) + {i}"))
    (src / "broken.py").write_text("def f(:\n    pass\n")
    (src / "latin.py").write_bytes('def f():\n    """Caf\xe9 au lait recipe here."""\n    return 1\n'.encode("latin-1"))
    (src / "dup.py").write_text(GOOD)
    (src / "dup2.py").write_text(GOOD)  # exact duplicate of dup.py
    (src / "test_mod.py").write_text(GOOD)
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        stats = build_corpus(_hp(tmp_path), tmp_path / "out", log=fh)
    assert stats["skipped"]["syntax_error"] == 1 and stats["skipped"]["not_utf8"] == 1
    assert stats["skipped"]["test_file"] == 1 and stats["skipped"]["duplicate"] == 2
    assert sum(stats["kept"].values()) == 2 * 9
    text = log.read_text()
    assert "broken.py: does not parse" in text and "latin.py: not UTF-8" in text
    assert "skipped 2 duplicate item(s)" in text
    rows = [json.loads(x) for x in (tmp_path / "out/train.jsonl").read_text().splitlines()]
    test_q = [json.loads(x) for x in (tmp_path / "out/test/queries.jsonl").read_text().splitlines()]
    train_files = {r["file"] for r in rows}
    test_files = {q["qid"].split("::")[0] for q in test_q}
    assert train_files and test_files and not train_files & test_files
    assert json.loads((tmp_path / "out/stats.json").read_text()) == stats


def test_split_is_deterministic_and_roughly_proportional():
    names = [f"pkg/m{i}.py" for i in range(2000)]
    splits = [split_of(n, 0.1, 0.2, 0) for n in names]
    assert splits == [split_of(n, 0.1, 0.2, 0) for n in names]
    assert 0.15 < splits.count("test") / 2000 < 0.25 and 0.06 < splits.count("valid") / 2000 < 0.14


def test_unknown_package_is_a_config_error(tmp_path):
    from ssl_core.errors import InputError

    with pytest.raises(InputError, match="no installed package 'no_such_pkg_xyz'"):
        build_corpus(_hp(tmp_path, packages=["no_such_pkg_xyz"]), tmp_path / "out")


def _package(root, name: str, n: int) -> None:
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for i in range(n):
        (pkg / f"m{i}.py").write_text(GOOD.replace("add_numbers", f"add_{name}_{i}")
                                      .replace("len(self.items)", f"len(self.items) + len('{name}{i}')"))


def test_heldout_packages_are_held_out_whole_and_drawn_by_seed(tmp_path, monkeypatch):
    names = ["alpha_pkg", "beta_pkg", "gamma_pkg", "delta_pkg"]
    for name in names:
        _package(tmp_path / "site", name, 6)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    hp = _hp(tmp_path, directories=[], packages=names, heldout_packages=2, valid_fraction=0.2, test_fraction=0.2)
    stats = build_corpus(hp, tmp_path / "out")
    held = stats["heldout_packages"]
    assert held == heldout_packages(hp["corpus"]) and len(held) == 2 and set(held) < set(names)
    # the draw depends on the seed and the set of names, not on their order
    assert heldout_packages({**hp["corpus"], "packages": names[::-1]}) == held
    assert any(heldout_packages({**hp["corpus"], "seed": s}) != held for s in range(1, 6))

    def pkgs(path):
        return {json.loads(x)["qid" if "qid" in x else "id"].split("/")[0] for x in path.read_text().splitlines()}

    trained = pkgs(tmp_path / "out/train.jsonl") | pkgs(tmp_path / "out/valid.jsonl") | pkgs(
        tmp_path / "out/test/queries.jsonl")
    assert pkgs(tmp_path / "out/heldout_packages/queries.jsonl") == set(held)
    assert trained == set(names) - set(held)  # whole packages: no file of a held-out package anywhere else
    queries = [json.loads(x) for x in (tmp_path / "out/heldout_packages/queries.jsonl").read_text().splitlines()]
    cids = [json.loads(x)["cid"] for x in (tmp_path / "out/heldout_packages/corpus.jsonl").read_text().splitlines()]
    assert [q["gold"] for q in queries] == cids and stats["kept"]["heldout"] == len(cids) == 2 * 6 * 2


def test_more_heldout_packages_than_packages_is_a_config_error(tmp_path):
    from ssl_core.errors import InputError

    with pytest.raises(InputError, match="heldout_packages: 2 packages held out, but only 0"):
        build_corpus(_hp(tmp_path, heldout_packages=2), tmp_path / "out")
