"""Outputs that appear whole or not at all.

Every stage writes to a temporary name in the destination's directory and renames it into place when complete
(``os.replace`` is atomic on POSIX within one file system), so a killed job never leaves a file that looks
finished, and Snakemake's incomplete-output tracking stays correct.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "remove_on_failure", "write_json", "write_text"]


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it to ``dest`` if the block succeeds, delete it if not."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def remove_on_failure(directory: str | os.PathLike[str], names: tuple[str, ...]) -> Iterator[None]:
    """Delete ``directory/name`` for each of ``names`` if the block raises (also on KeyboardInterrupt and
    SystemExit), then re-raise: a failed or interrupted stage leaves no file that looks like a finished result,
    while anything else in the directory (checkpoints a rerun resumes from) stays."""
    try:
        yield
    except BaseException:
        for name in names:
            (Path(directory) / name).unlink(missing_ok=True)
        raise


def write_text(dest: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text)


def write_json(dest: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``dest`` atomically."""
    write_text(dest, json.dumps(obj, indent=2, sort_keys=False) + "\n")
