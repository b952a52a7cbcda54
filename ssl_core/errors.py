"""One exception type for problems with the user's input, and the CLI wrapper that reports it in one line."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

__all__ = ["InputError", "report_input_errors"]

F = TypeVar("F", bound=Callable[..., object])


class InputError(Exception):
    """Bad input: a missing, truncated or malformed file, a checksum mismatch, a config typo.

    The message names the file (and the row, record or key where it applies) and what is wrong, so that the one
    line a stage prints is enough to fix the problem.
    """


def report_input_errors(main: F) -> F:
    """Decorator for CLI entry points: an :class:`InputError` becomes ``error: <message>`` and exit status 2.

    Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper  # type: ignore[return-value]
