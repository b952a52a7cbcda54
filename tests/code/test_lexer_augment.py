"""Token typing from Python's tokenize, the query word rule, and soft data augmentation."""

from __future__ import annotations

import random

from domains.code.cocosoda.augment import MASK, TypePools, soft_augment
from domains.code.data.lexer import code_tokens, encoder_text, query_tokens, split_identifiers

CODE = 'def read_file(path, n=3):\n    """Doc."""\n    # comment\n    return open(path).read()[:n] + "x"\n'


def test_code_tokens_types_from_tokenize():
    toks = dict((s, t) for t, s in code_tokens(CODE))
    assert toks["def"] == "keyword" and toks["return"] == "keyword"
    assert toks["read_file"] == "identifier" and toks["path"] == "identifier"
    assert toks["3"] == "literal" and toks['"x"'] == "literal" and toks['"""Doc."""'] == "literal"
    assert toks["("] == "operator" and toks["+"] == "operator" and toks["# comment"] == "comment"


def test_code_tokens_fallback_for_bad_indentation():
    toks = code_tokens("def f(self):\n        return 1\n    x = 'a'\n")
    assert ("keyword", "def") in toks and ("literal", "'a'") in toks and ("identifier", "x") in toks


def test_query_tokens_word_classes():
    assert query_tokens("python read 2 files?") == [("word", "python"), ("word", "read"), ("number", "2"), ("word", "files"),
                                                     ("symbol", "?")]


def test_encoder_text_splits_identifiers_keeps_mask():
    assert split_identifiers("readFile_now") == "read File now"
    assert encoder_text(["getHTTPResponse", MASK, "x_y"]) == "get http response [MASK] x y"


def test_soft_augment_rates():
    toks = code_tokens(CODE)
    pools = TypePools([toks, code_tokens("def g(a, b):\n    return a * b - 7\n")])
    rng = random.Random(0)
    assert soft_augment(toks, 0.0, 0.0, pools, rng) == [s for _, s in toks]
    assert soft_augment(toks, 1.0, 0.0, pools, rng) == [MASK] * len(toks)
    replaced = soft_augment(toks, 0.0, 1.0, pools, rng)
    for (kind, old), new in zip(toks, replaced):
        if kind == "comment":
            assert new == old  # comments are never replaced by type
        else:
            assert new in pools.tokens[kind]


def test_soft_augment_mask_rate_is_respected_on_average():
    toks = [("identifier", f"v{i}") for i in range(5000)]
    out = soft_augment(toks, 0.2, 0.1, TypePools([toks]), random.Random(1))
    masked = sum(t == MASK for t in out) / len(out)
    assert 0.17 < masked < 0.23
