"""Genome reading: FASTA/GenBank, gzipped or not; bad input gives one InputError naming file and record."""

from __future__ import annotations

import gzip

import pytest
from Bio.Seq import Seq
from Bio.SeqIO import write as seqio_write
from Bio.SeqRecord import SeqRecord

from domains.genomics.data.seqio import read_genome
from ssl_core.errors import InputError
from tests.genomics.conftest import write_fasta


def test_fasta_plain_and_gzipped_give_the_same_records(tmp_path):
    recs = {"a": "ACGTNacgtRYKM" * 10, "b": "GGGCCC"}
    plain = read_genome(write_fasta(tmp_path / "x.fa", recs))
    gz = read_genome(write_fasta(tmp_path / "x.fa.gz", recs, gz=True))
    assert [(r.name, r.seq) for r in plain] == [(r.name, r.seq) for r in gz]
    assert plain[0].seq == ("ACGTNACGTRYKM" * 10).encode() and plain[1].name == "b"


def test_genbank_gzipped(tmp_path):
    rec = SeqRecord(Seq("ACGT" * 50), id="NC_1.1", name="NC_1", description="test",
                    annotations={"molecule_type": "DNA"})
    path = tmp_path / "x.gbk"
    seqio_write([rec], path, "genbank")
    gz = tmp_path / "y.gbk.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    got = read_genome(gz)
    assert len(got) == 1 and got[0].name == "NC_1.1" and got[0].seq == b"ACGT" * 50


def test_empty_fasta_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "empty.fa"
    path.write_text("")
    with pytest.raises(InputError, match=r"empty\.fa: no sequence records"):
        read_genome(path)
    gz = tmp_path / "empty.fa.gz"
    gz.write_bytes(gzip.compress(b"\n\n"))
    with pytest.raises(InputError, match=r"empty\.fa\.gz: no sequence records"):
        read_genome(gz)


def test_header_without_sequence_names_the_record(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(">good\nACGT\n>hollow\n")
    with pytest.raises(InputError, match=r"x\.fa: record 'hollow': empty sequence"):
        read_genome(path)


@pytest.mark.parametrize("bad, char", [("ACGTEFG", "E"), ("ACGT-ACGT", "-"), ("ACGT*", "*"), ("ACG1", "1")])
def test_non_dna_character_names_file_record_and_position(tmp_path, bad, char):
    path = write_fasta(tmp_path / "p.fa.gz", {"ok": "ACGT", "rec2": bad}, gz=True)
    with pytest.raises(InputError) as exc:
        read_genome(path)
    msg = str(exc.value)
    assert "p.fa.gz" in msg and "record 'rec2'" in msg and f"character '{char}'" in msg
    assert f"position {bad.index(char) + 1}" in msg


def test_protein_fasta_is_rejected(tmp_path):
    path = write_fasta(tmp_path / "prot.fa", {"P1": "MKVLAAGIVQE"})
    with pytest.raises(InputError, match="not a DNA"):
        read_genome(path)


def test_truncated_gzip_is_an_error_naming_the_file(tmp_path):
    full = gzip.compress((">a\n" + "ACGT" * 5000 + "\n").encode())
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(InputError, match=r"cut\.fa\.gz: truncated or corrupt gzip"):
        read_genome(path)


def test_not_fasta_or_genbank(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello\n")
    with pytest.raises(InputError, match="neither FASTA"):
        read_genome(path)
