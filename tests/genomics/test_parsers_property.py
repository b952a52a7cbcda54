"""Property-based tests (hypothesis) for the genomics parsers of user files: FASTA (plain or gzipped) round-trips,
any bytes either parse into valid DNA or fail with InputError naming the file, and sample sheets either validate
or fail with InputError naming the sheet - never another exception."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from domains.genomics.data.samples import read_sample_sheet
from domains.genomics.data.seqio import IUPAC, read_genome
from ssl_core.errors import InputError

NAMES = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=">"), min_size=1, max_size=12)
SEQS = st.text(alphabet="ACGTNacgtnRYKM", min_size=1, max_size=200)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(NAMES, SEQS), min_size=1, max_size=5), st.integers(5, 80), st.booleans())
def test_fasta_round_trips_any_line_width_plain_or_gzipped(records, width, gzipped):
    text = "".join(
        f">{name} some description\n" + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
        for name, seq in records
    ).encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("g.fa.gz" if gzipped else "g.fa")
        path.write_bytes(gzip.compress(text) if gzipped else text)
        got = read_genome(path)
    assert [(r.name, r.seq) for r in got] == [(n, s.upper().encode()) for n, s in records]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_parse_to_dna_or_fail_naming_the_file(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user.fa"
        path.write_bytes(data)
        try:
            records = read_genome(path)
        except InputError as exc:
            assert str(exc).startswith(f"{path}: ")
        else:
            assert records and all(r.seq and not r.seq.translate(None, IUPAC) for r in records)


CELL = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="\t"), max_size=15)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(CELL, CELL), min_size=0, max_size=4))
def test_sample_sheets_validate_or_fail_naming_the_sheet(rows):
    with tempfile.TemporaryDirectory() as tmp:
        sheet = Path(tmp) / "samples.tsv"
        sheet.write_text("file\tspecies\n" + "".join(f"{f}\t{s}\n" for f, s in rows))
        try:
            samples = read_sample_sheet(sheet, check_files=False)
        except InputError as exc:
            assert str(exc).startswith(f"{sheet}: ")
        else:
            assert len(samples) == len(rows)
            for s in samples:
                assert ".." not in Path(s.path).relative_to(sheet.parent).parts
                assert not set(str(s.path)) & set(";|&$`<>\"'*?!(){}[]")
