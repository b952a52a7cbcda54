"""Reading genomes: FASTA or GenBank, gzipped or not, validated as DNA.

FASTA goes through a bytes-level reader (whole-file decompression, ``bytes.split``/``translate`` in C): it keeps
up with plain gzip decompression, where Biopython's ``SimpleFastaParser`` reads gzipped FASTA at about a third of
that speed (see ``benchmarks/genomics_preprocess.py``). GenBank files are parsed with Biopython
(``Bio.SeqIO.parse(..., "genbank")``). Both paths apply the same checks:

* a file with no sequence records is an error (empty FASTA);
* a record with an empty sequence, or with any character that is not an IUPAC nucleotide code
  (``ACGTUNRYSWKMBDHV``, either case) is an error naming the file, the record and the first bad character;
* a truncated or corrupt gzip stream is an error naming the file.

Sequences are returned upper-case as ``bytes``; ambiguity codes are kept (fragment sampling skips windows that
contain anything but A, C, G, T).
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from ssl_core.errors import InputError

__all__ = ["Record", "IUPAC", "read_genome", "decompress", "check_dna"]

IUPAC = b"ACGTUNRYSWKMBDHVacgtunryswkmbdhv"
_GZIP_MAGIC = b"\x1f\x8b"
_UPPER = bytes.maketrans(b"acgtunryswkmbdhv", b"ACGTUNRYSWKMBDHV")
_WHITESPACE = b"\n\r \t"


@dataclass(frozen=True)
class Record:
    name: str
    seq: bytes  # upper case


def decompress(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, gunzipped if it is gzip (by content, not by name); InputError if the gzip is broken."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(f"{path}: truncated or corrupt gzip file ({exc})") from None


def check_dna(path: str | os.PathLike[str], name: str, seq: bytes, upper: bool = True) -> bytes:
    """``seq`` upper-cased; InputError naming file, record and the first non-IUPAC character otherwise.
    ``upper=False``: ``seq`` has been upper-cased already (nucleotide codes only), skip that pass."""
    if not seq:
        raise InputError(f"{path}: record {name!r}: empty sequence")
    bad = seq.translate(None, IUPAC)
    if bad:
        ch = bad[:1]
        pos = seq.index(ch)
        shown = ch.decode("latin-1")
        raise InputError(
            f"{path}: record {name!r}: character {shown!r} at position {pos + 1} is not a DNA (IUPAC nucleotide) code"
        )
    return seq.upper() if upper else seq


def _read_fasta(path: Path, data: bytes) -> list[Record]:
    text = data
    if not text.lstrip().startswith(b">"):
        raise InputError(f"{path}: not a FASTA file (no '>' header before the sequence)")
    out = []
    for chunk in text.lstrip()[1:].split(b"\n>"):
        header, _, body = chunk.partition(b"\n")
        name = header.split(None, 1)[0].decode("utf-8", "replace") if header.strip() else "(no name)"
        # one pass: upper-case the nucleotide codes and drop line breaks; then one pass to validate
        seq = body.translate(_UPPER, _WHITESPACE)
        out.append(Record(name, check_dna(path, name, seq, upper=False)))
    return out


def _read_genbank(path: Path, data: bytes) -> list[Record]:
    from Bio import SeqIO

    out = []
    try:
        for rec in SeqIO.parse(io.StringIO(data.decode("utf-8", "replace")), "genbank"):
            try:
                seq = bytes(rec.seq)
            except Exception:  # Bio.Seq.UndefinedSequenceError: a GenBank record without sequence (CONTIG only)
                raise InputError(f"{path}: record {rec.id!r}: no sequence in this GenBank record") from None
            out.append(Record(rec.id, check_dna(path, rec.id, seq)))
    except ValueError as exc:
        raise InputError(f"{path}: malformed GenBank file ({exc})") from None
    return out


def read_genome(path: str | os.PathLike[str]) -> list[Record]:
    """All records of one genome file (FASTA or GenBank, gzipped or not), validated (see the module docstring)."""
    path = Path(path)
    data = decompress(path)
    head = data.lstrip()[:5]
    if not head:
        raise InputError(f"{path}: no sequence records (empty file)")
    if head.startswith(b">"):
        records = _read_fasta(path, data)
    elif head.startswith(b"LOCUS"):
        records = _read_genbank(path, data)
    else:
        raise InputError(f"{path}: neither FASTA ('>') nor GenBank ('LOCUS') format")
    if not records:
        raise InputError(f"{path}: no sequence records")
    return records
