"""Soft data augmentation (CoCoSoDa, Shi et al. 2023): each step, each token of a code snippet or query is kept,
masked or replaced by another token of the same type, with the configured rates.

Code tokens and their types come from Python's ``tokenize`` (:func:`domains.code.data.lexer.code_tokens`): identifier,
keyword, literal, operator (comments are only masked, never replaced). Query words use the word-level rule of
:func:`domains.code.data.lexer.query_tokens` (word, number, symbol). Replacements are drawn from the training split's
tokens of the same type, in proportion to their frequency (:class:`TypePools`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

__all__ = ["MASK", "TypePools", "soft_augment"]

MASK = "[MASK]"
_NEVER_REPLACED = {"comment"}


class TypePools:
    """Tokens of each type with their frequencies, for replacement by type."""

    def __init__(self, token_lists: Iterable[list[tuple[str, str]]], max_per_type: int = 5000) -> None:
        counts: dict[str, Counter] = {}
        for tokens in token_lists:
            for kind, tok in tokens:
                counts.setdefault(kind, Counter())[tok] += 1
        self.tokens: dict[str, list[str]] = {}
        self.weights: dict[str, list[int]] = {}
        for kind, c in counts.items():
            common = c.most_common(max_per_type)
            self.tokens[kind] = [t for t, _ in common]
            self.weights[kind] = [n for _, n in common]

    def draw(self, kind: str, rng: random.Random) -> str | None:
        if kind in _NEVER_REPLACED or kind not in self.tokens:
            return None
        return rng.choices(self.tokens[kind], self.weights[kind])[0]


def soft_augment(tokens: list[tuple[str, str]], mask_rate: float, replace_rate: float, pools: TypePools,
                 rng: random.Random) -> list[str]:
    """Token strings after dynamic masking (``mask_rate``) and replacement by type (``replace_rate``)."""
    out = []
    for kind, tok in tokens:
        u = rng.random()
        if u < mask_rate:
            out.append(MASK)
        elif u < mask_rate + replace_rate:
            new = pools.draw(kind, rng)
            out.append(tok if new is None else new)
        else:
            out.append(tok)
    return out
