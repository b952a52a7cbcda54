"""Fetching the genomes: sources table matches the manifest, mirror copies verified, sample sheet written."""

from __future__ import annotations

import json
import subprocess
import sys

from domains.genomics.data.fetch import source_rows
from domains.genomics.data.samples import read_sample_sheet
from tests.conftest import REPO


def test_sources_table_covers_the_manifest_with_raw_urls():
    rows = source_rows()
    assert len(rows) == 42 and len({r["file"] for r in rows}) == 42
    assert all(r["url"].startswith("https://raw.githubusercontent.com/") and len(r["sha256"]) == 64 for r in rows)
    assert {r["species"] for r in rows} >= {"Escherichia coli", "Shigella flexneri", "Corynebacterium glutamicum"}


def _fetch(out, status, mirror, limit=3):
    cmd = [sys.executable, "-m", "domains.genomics.data.fetch", "--out", str(out), "--status", str(status),
           "--mirror", str(mirror), "--limit", str(limit)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)


def test_fetch_from_mirror_writes_verified_files_and_sample_sheet(mirror, tmp_path):
    if not (mirror / "genomics" / "genomes").is_dir():
        import pytest

        pytest.skip("mirror has no genomics/genomes")
    proc = _fetch(tmp_path / "g", tmp_path / "s.json", mirror)
    assert proc.returncode == 0, proc.stderr
    status = json.loads((tmp_path / "s.json").read_text())
    assert status["complete"] and set(status["files"].values()) == {"mirror"}
    samples = read_sample_sheet(tmp_path / "g" / "samples.tsv")
    assert [s.species for s in samples] == [r["species"] for r in source_rows()[:3]]


def test_corrupt_mirror_copy_is_rejected(mirror, tmp_path):
    row = source_rows()[0]
    fake = tmp_path / "mirror" / "genomics" / "genomes"
    fake.mkdir(parents=True)
    (fake / row["file"]).write_bytes(b"not the genome")
    proc = _fetch(tmp_path / "g", tmp_path / "s.json", tmp_path / "mirror", limit=1)
    assert proc.returncode == 2 and "sha256" in proc.stderr and row["file"] in proc.stderr
    assert not (tmp_path / "g" / row["file"]).exists() and not (tmp_path / "g" / "samples.tsv").exists()
