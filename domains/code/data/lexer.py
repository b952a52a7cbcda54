"""Lexing shared by augmentation, tokenisation and BM25: Python tokens with their type (from the standard
``tokenize`` module), natural-language words with a simple word class, and the text form the encoder reads.

Code token types (the four CoCoSoDa replaces by type): ``identifier``, ``keyword``, ``literal`` (numbers and
strings), ``operator`` (operators and delimiters). Comments are kept as ``comment`` (never replaced by type,
only masked). Snippets that ``tokenize`` rejects (e.g. a method cut out of its class with inconsistent
indentation) fall back to a regular expression that yields the same four types.

Query words (natural language) get a word-level rule: ``word`` (alphabetic), ``number`` (digits), ``symbol``
(anything else); replacement by type draws another token of the same class.
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize

__all__ = ["CODE_TYPES", "code_tokens", "query_tokens", "encoder_text", "split_identifiers"]

CODE_TYPES = ("identifier", "keyword", "literal", "operator", "comment")
_SKIP = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING}
_FALLBACK = re.compile(r"#[^\n]*|\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'"
                       r"|[A-Za-z_][A-Za-z0-9_]*|\d[\w.]*|\*\*=?|//=?|->|[=!<>]=|[-+*/%&|^@]=|\S")


def _type_of(tok_type: int, string: str) -> str:
    if tok_type == tokenize.NAME:
        return "keyword" if keyword.iskeyword(string) or keyword.issoftkeyword(string) else "identifier"
    if tok_type in (tokenize.NUMBER, tokenize.STRING):
        return "literal"
    if tok_type == tokenize.COMMENT:
        return "comment"
    return "operator"


def _fallback_type(string: str) -> str:
    if string.startswith("#"):
        return "comment"
    if string[0] in "\"'" or string[0].isdigit():
        return "literal"
    if string[0].isalpha() or string[0] == "_":
        return "keyword" if keyword.iskeyword(string) else "identifier"
    return "operator"


def code_tokens(code: str) -> list[tuple[str, str]]:
    """``(type, string)`` for each Python token of ``code`` (layout tokens dropped)."""
    out: list[tuple[str, str]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in _SKIP:
                continue
            if tok.type == tokenize.ERRORTOKEN and not tok.string.strip():
                continue
            out.append((_type_of(tok.type, tok.string), tok.string))
        return out
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [(_fallback_type(m.group()), m.group()) for m in _FALLBACK.finditer(code)]


_WORD = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]+")


def query_tokens(query: str) -> list[tuple[str, str]]:
    """``(class, word)`` for each word of a natural-language query: ``word``, ``number`` or ``symbol``."""
    out = []
    for m in _WORD.finditer(query):
        w = m.group()
        out.append(("word" if w[0].isalpha() else "number" if w[0].isdigit() else "symbol", w))
    return out


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def split_identifiers(text: str) -> str:
    """Split camelCase and snake_case into words (``readFile_now`` -> ``read File now``)."""
    return _CAMEL.sub(" ", text.replace("_", " "))


def encoder_text(tokens: list[str]) -> str:
    """What the BPE tokenizer and encoder read: tokens joined by spaces, identifiers split, lower-cased.

    Splitting ``snake_case``/``camelCase`` lets the sub-words of an identifier meet the same words in a query
    (one shared vocabulary for both towers, as UniXcoder's).
    """
    return " ".join(t if t == "[MASK]" else split_identifiers(t).lower() for t in tokens)
