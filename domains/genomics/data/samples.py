"""Sample sheets: which genome files to read and their species, validated against ``sample_sheet.schema.yaml``.

A sheet is a TSV with a header and one row per genome file::

    file                      species
    GCF_000742135.1.fa.gz     Klebsiella pneumoniae
    my_isolate.gbk            Escherichia coli

Files are looked up in the sheet's directory. Names with '/', '..' or shell metacharacters are rejected (they
reach shell commands and output paths), as are duplicate files and files that do not exist; every error names
the sheet, the row and the column.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from ssl_core.errors import InputError

__all__ = ["Sample", "read_sample_sheet", "SCHEMA"]

SCHEMA = Path(__file__).with_name("sample_sheet.schema.yaml")
_EXT = re.compile(r"(\.gz)?$")


@dataclass(frozen=True)
class Sample:
    genome: str
    path: Path
    species: str


def _genome_id(file: str) -> str:
    name = file[:-3] if file.endswith(".gz") else file
    for ext in (".fasta", ".fa", ".fna", ".gbk", ".gb", ".gbff", ".genbank"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def read_sample_sheet(sheet: str | os.PathLike[str], check_files: bool = True) -> list[Sample]:
    """Validated rows of ``sheet`` (see the module docstring)."""
    sheet = Path(sheet)
    try:
        with open(sheet, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
            fields = rows[0].keys() if rows else []
    except OSError as exc:
        raise InputError(f"{sheet}: cannot read the sample sheet ({exc.strerror})") from None
    if not rows:
        raise InputError(f"{sheet}: the sample sheet has no rows (a header 'file<TAB>species' and one row per genome)")
    missing_cols = {"file", "species"} - set(fields)
    if missing_cols:
        raise InputError(f"{sheet}: missing column(s) {', '.join(sorted(missing_cols))} (columns: file, species[, genome])")
    with open(SCHEMA) as fh:
        validator = jsonschema.Draft202012Validator(yaml.safe_load(fh))
    out: list[Sample] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k is not None and (k != "genome" or v)}
        error = jsonschema.exceptions.best_match(validator.iter_errors(row))
        if error is not None:
            col = ".".join(str(p) for p in error.absolute_path) or "row"
            value = row.get(col, "")
            raise InputError(f"{sheet}: line {i}: column {col} = {value!r} is not allowed ({error.message})"
                             if col != "row" else f"{sheet}: line {i}: {error.message}")
        file = row["file"]
        if file in seen:
            raise InputError(f"{sheet}: line {i}: file {file!r} is listed twice (first on line {seen[file]})")
        seen[file] = i
        path = sheet.parent / file
        if check_files and not path.is_file():
            raise InputError(f"{sheet}: line {i}: file {file!r} not found ({path})")
        out.append(Sample(genome=row.get("genome") or _genome_id(file), path=path, species=row["species"]))
    genomes = [s.genome for s in out]
    dup = {g for g in genomes if genomes.count(g) > 1}
    if dup:
        raise InputError(f"{sheet}: genome id(s) {', '.join(sorted(dup))} appear twice; add a 'genome' column")
    return out
