"""The sample sheet of a user's medical data set (``medical.user_datasets``), read with the standard library only
(the workflow reads it when it builds the DAG, to list the files a job depends on).

A TSV with the header ``kind	name	file``:

- one ``view`` row per omics view, two or more: ``name`` names the view, ``file`` is a CSV with a header row of
  feature names and the sample id in the first column;
- one ``labels`` row: ``file`` is a CSV with the columns ``sample``, ``label`` and optionally ``split``
  (``train`` or ``test`` on every row: a fixed split; without it seeded stratified splits are drawn).

Files are named relative to the sheet's directory and may not leave it. Any problem is one :class:`InputError`
naming the sheet and line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from ssl_core.errors import InputError

__all__ = ["SHEET_COLUMNS", "Sheet", "check_columns", "read_sheet"]

SHEET_COLUMNS = ("kind", "name", "file")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Sheet:
    """A user's data set: its sheet, the views (name, file) in sheet order and the label file."""

    path: Path
    views: tuple[tuple[str, Path], ...]
    labels: Path

    @property
    def files(self) -> list[Path]:
        """Every file the sheet names (views, then labels)."""
        return [f for _, f in self.views] + [self.labels]


def check_columns(path: Path, header: list[str], allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    """One line naming the first header column not in ``allowed``, or the first ``required`` one missing."""
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise InputError(f"{path}: line 1: unknown column {unknown[0]!r} (columns: {', '.join(allowed)})")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path}: line 1: no {missing[0]!r} column (columns: {', '.join(allowed)})")


def read_sheet(path: str | Path) -> Sheet:
    """Read and check a sample sheet (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: sample sheet not found")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not rows:
        raise InputError(f"{path}: file is empty")
    header = rows[0]
    check_columns(path, header, SHEET_COLUMNS, SHEET_COLUMNS)
    root = path.parent.resolve()
    views: list[tuple[str, Path]] = []
    labels: list[Path] = []
    for i, values in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        where = f"{path}: line {i}"
        if len(values) != len(header):
            raise InputError(f"{where}: {len(values)} fields, the header has {len(header)}")
        row = dict(zip(header, values))
        kind, name, file = row["kind"], row["name"], row["file"]
        if kind not in ("view", "labels"):
            raise InputError(f"{where}: kind {kind!r} is not 'view' or 'labels'")
        if not _NAME.fullmatch(name):
            raise InputError(f"{where}: name {name!r}: use letters, digits, '_', '.' and '-'")
        target = (root / file).resolve()
        if not file or Path(file).is_absolute() or not target.is_relative_to(root):
            raise InputError(f"{where}: file {file!r} is not inside the sheet's directory")
        if not target.is_file():
            raise InputError(f"{where}: file {file!r} not found")
        if kind == "labels":
            labels.append(target)
        elif name in dict(views):
            raise InputError(f"{where}: view {name!r} again")
        else:
            views.append((name, target))
    if len(labels) != 1:
        raise InputError(f"{path}: needs one 'labels' row, found {len(labels)}")
    if len(views) < 2:
        raise InputError(f"{path}: needs two or more 'view' rows, found {len(views)}")
    return Sheet(path, tuple(views), labels[0])
