"""Sample sheets: schema-validated names, missing files and duplicates reported with sheet, line and column."""

from __future__ import annotations

import pytest

from domains.genomics.data.samples import read_sample_sheet
from ssl_core.errors import InputError


def _sheet(tmp_path, rows, header="file\tspecies"):
    p = tmp_path / "sheet.tsv"
    p.write_text(header + "\n" + "".join("\t".join(r) + "\n" for r in rows))
    return p


def test_valid_sheet(genome_dir):
    samples = read_sample_sheet(genome_dir / "samples.tsv")
    assert len(samples) == 7 and samples[0].genome == "g0" and samples[0].species == "Species A"
    assert samples[6].path == genome_dir / "g6.fa"


def test_missing_file_names_sheet_line_and_file(tmp_path):
    (tmp_path / "a.fa").write_text(">a\nACGT\n")
    p = _sheet(tmp_path, [("a.fa", "Sp one"), ("gone.fa.gz", "Sp two")])
    with pytest.raises(InputError, match=r"sheet\.tsv: line 3: file 'gone\.fa\.gz' not found"):
        read_sample_sheet(p)


@pytest.mark.parametrize("name", ["sub/a.fa", "../a.fa", "a;rm.fa", "a$(x).fa", "a b.fa", "..a.fa", "-a.fa"])
def test_unsafe_file_names_are_rejected(tmp_path, name):
    p = _sheet(tmp_path, [(name, "Sp one")])
    with pytest.raises(InputError, match=r"line 2: column file .* is not allowed"):
        read_sample_sheet(p, check_files=False)


@pytest.mark.parametrize("species", ["E. coli; rm -rf", "Sp`x`", "Sp/one", "Sp $HOME", ""])
def test_unsafe_species_names_are_rejected(tmp_path, species):
    p = _sheet(tmp_path, [("a.fa", species)])
    with pytest.raises(InputError, match=r"line 2: column species"):
        read_sample_sheet(p, check_files=False)


def test_duplicates_and_missing_columns(tmp_path):
    with pytest.raises(InputError, match="listed twice"):
        read_sample_sheet(_sheet(tmp_path, [("a.fa", "X"), ("a.fa", "Y")]), check_files=False)
    with pytest.raises(InputError, match="missing column"):
        read_sample_sheet(_sheet(tmp_path, [("a.fa",)], header="file"), check_files=False)
    with pytest.raises(InputError, match="no rows"):
        read_sample_sheet(_sheet(tmp_path, []), check_files=False)
