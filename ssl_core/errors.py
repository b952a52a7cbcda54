"""One exception type for problems with the user's input, and the CLI wrapper that reports it in one line."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["InputError", "TrainingInterrupted", "report_input_errors"]

F = TypeVar("F", bound=Callable[..., object])


class InputError(Exception):
    """Bad input: a missing, truncated or malformed file, a checksum mismatch, a config typo.

    The message names the file (and the row, record or key where it applies) and what is wrong, so that the one
    line a stage prints is enough to fix the problem.
    """


class TrainingInterrupted(Exception):
    """Training stopped before its last epoch (SIGTERM, Ctrl-C): no result is written, the checkpoint is kept and
    a rerun of the same command resumes."""


def report_input_errors(main: F) -> F:
    """Decorator for CLI entry points: an :class:`InputError` becomes ``error: <message>`` and exit status 2; a
    :class:`TrainingInterrupted` becomes ``interrupted: <message>`` and exit status 143 (as a SIGTERM'd process).

    Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        if os.environ.get("SSL_LOG_SOURCE"):  # set by the workflow's rules: the log names the code that ran
            print(f"source: {Path(sys.argv[0]).resolve()}", file=sys.stderr)  # python -m: the module's file
        try:
            return main(*args, **kwargs)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except TrainingInterrupted as exc:
            print(f"interrupted: {exc}", file=sys.stderr)
            raise SystemExit(143) from None

    return wrapper  # type: ignore[return-value]
