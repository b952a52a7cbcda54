"""Fetching ESC-50 and FSDD: from the mirror (sha256 per clip), and from a stand-in for the upstream repository
(git blob id per file, as the GitHub tree reports it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ssl_core.fetch
from domains.audio.data import fetch
from domains.audio.data.readers import read_esc50_meta, read_fsdd_meta
from tests.audio.conftest import run_stage, write_wave


def _fake_mirror(audio_mirror: Path, tmp_path: Path, dataset: str, n_clips: int) -> Path:
    """A mirror with the real meta.csv of ``dataset`` and only its first ``n_clips`` clips (copies)."""
    sub = "audio" if dataset == "esc50" else "recordings"
    src = audio_mirror / "audio" / dataset
    dest = tmp_path / "mirror" / "audio" / dataset
    (dest / sub).mkdir(parents=True)
    shutil.copyfile(src / "meta.csv", dest / "meta.csv")
    for f in pd.read_csv(src / "meta.csv").filename[:n_clips]:
        shutil.copyfile(src / sub / f, dest / sub / f)
    return tmp_path / "mirror"


@pytest.mark.parametrize("dataset", ["esc50", "fsdd"])
def test_fetch_from_real_mirror(tmp_path, audio_mirror, dataset):
    out, status = tmp_path / dataset, tmp_path / f"{dataset}.json"
    proc = run_stage("domains.audio.data.fetch", "--dataset", dataset, "--out", out, "--status", status,
                     "--mirror", audio_mirror, "--limit", 6, subprocess_=dataset == "fsdd")
    assert proc.returncode == 0, proc.stderr
    assert f"{dataset}: 6 of 6 clips in {out} (from mirror)" in proc.stdout
    s = json.loads(status.read_text())
    assert s["complete"] and s["clips"] == 6 and s["origin"] == "mirror" and s["missing"] == []
    df = (read_esc50_meta if dataset == "esc50" else read_fsdd_meta)(out / "meta.csv")
    assert len(df) == 6 and all(Path(p).is_symlink() for p in df.path)
    assert not list(out.glob(".*part"))


def test_clip_missing_from_mirror_is_a_counted_skip(tmp_path, audio_mirror):
    mirror = _fake_mirror(audio_mirror, tmp_path, "fsdd", n_clips=4)
    proc = run_stage("domains.audio.data.fetch", "--dataset", "fsdd", "--out", tmp_path / "out", "--status",
                     tmp_path / "s.json", "--mirror", mirror, "--limit", 6, "--copy")
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["clips"] == 4 and s["listed"] == 6 and len(s["missing"]) == 2 and not s["complete"]
    assert "warning: 2 of 6 clips" in proc.stdout
    assert len(pd.read_csv(tmp_path / "out" / "meta.csv")) == 4
    assert not any(p.is_symlink() for p in (tmp_path / "out" / "recordings").iterdir())


def test_corrupt_mirror_clip_fails_naming_it_and_writes_no_status(tmp_path, audio_mirror):
    mirror = _fake_mirror(audio_mirror, tmp_path, "esc50", n_clips=3)
    first = pd.read_csv(mirror / "audio" / "esc50" / "meta.csv").filename[1]
    bad = mirror / "audio" / "esc50" / "audio" / first
    data = bytearray(bad.read_bytes())
    data[200] ^= 0xFF
    bad.write_bytes(bytes(data))
    proc = run_stage("domains.audio.data.fetch", "--dataset", "esc50", "--out", tmp_path / "out", "--status",
                     tmp_path / "s.json", "--mirror", mirror, "--limit", 3)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: sha256 ") and "not the published file" in lines[0]
    assert not (tmp_path / "s.json").exists()


def test_modified_mirror_meta_and_empty_mirror_fail(tmp_path, audio_mirror):
    mirror = _fake_mirror(audio_mirror, tmp_path, "fsdd", n_clips=0)
    proc = run_stage("domains.audio.data.fetch", "--dataset", "fsdd", "--out", tmp_path / "o1", "--status",
                     tmp_path / "s1.json", "--mirror", mirror, "--limit", 3)
    assert proc.returncode == 2 and "none of its 3 clips are in" in proc.stderr
    meta = mirror / "audio" / "fsdd" / "meta.csv"
    meta.write_text(meta.read_text().replace("george", "georgE", 1))
    proc = run_stage("domains.audio.data.fetch", "--dataset", "fsdd", "--out", tmp_path / "o2", "--status",
                     tmp_path / "s2.json", "--mirror", mirror)
    assert proc.returncode == 2 and f"{meta}: sha256" in proc.stderr
    proc = run_stage("domains.audio.data.fetch", "--dataset", "fsdd", "--out", tmp_path / "o3", "--status",
                     tmp_path / "s3.json", "--mirror", tmp_path / "nowhere")
    assert proc.returncode == 2 and "not in the mirror" in proc.stderr
    assert not any((tmp_path / f"s{i}.json").exists() for i in (1, 2, 3))


class _Remote:
    """A stand-in for raw.githubusercontent.com and the GitHub tree API, serving files from a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.commit = "c0ffee" * 6 + "abcd"
        self.blobs = {str(p.relative_to(root)): ssl_core.fetch._digests(p)[1] for p in root.rglob("*") if p.is_file()}
        self.tamper: set[str] = set()

    def tree(self, repo: str, ref: str):
        return self.commit, dict(self.blobs)

    def download(self, url: str, dest: Path, timeout: float) -> None:
        rel = url.split(f"/{self.commit}/", 1)[1]
        data = (self.root / rel).read_bytes()
        dest.write_bytes(data + b"x" if rel in self.tamper else data)


@pytest.fixture()
def remote(tmp_path, monkeypatch):
    monkeypatch.delenv("SSL_DATA_MIRROR", raising=False)
    root = tmp_path / "remote"
    rate = 8000
    for name in ("0_jackson_0.wav", "3_theo_12.wav", "9_lucas_4.wav"):
        write_wave(root / "recordings" / name, 0.1 * np.sin(np.arange(3000) / 7.0).astype(np.float32), rate, "PCM_16")
    for name in ("1-100032-A-0.wav", "2-118072-A-0.wav"):
        write_wave(root / "audio" / name, 0.1 * np.sin(np.arange(44100 * 5) / 9.0).astype(np.float32), 44100, "PCM_16")
    (root / "meta").mkdir()
    (root / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-100032-A-0.wav,1,0,dog,True,100032,A\n2-118072-A-0.wav,2,0,dog,True,118072,A\n")
    r = _Remote(root)
    monkeypatch.setattr(fetch, "upstream_tree", r.tree)
    monkeypatch.setattr(ssl_core.fetch, "_download", r.download)
    return r


def test_upstream_fsdd_checked_by_git_blob_and_meta_written_from_names(tmp_path, remote):
    out = tmp_path / "fsdd"
    fetch.main(["--dataset", "fsdd", "--out", str(out), "--status", str(tmp_path / "s.json")])
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["origin"] == "upstream" and s["commit"] == remote.commit and s["clips"] == 3
    df = read_fsdd_meta(out / "meta.csv")
    assert df.filename.tolist() == ["0_jackson_0.wav", "3_theo_12.wav", "9_lucas_4.wav"]
    assert df.split.tolist() == ["test", "train", "test"] and df.digit.tolist() == [0, 3, 9]


def test_upstream_esc50_wavs_then_prepare_resamples(tmp_path, remote):
    out = tmp_path / "esc50"
    fetch.main(["--dataset", "esc50", "--out", str(out), "--status", str(tmp_path / "s.json")])
    df = read_esc50_meta(out / "meta.csv")
    assert len(df) == 2 and df.esc10.all()
    from domains.audio.data.prepare import prepare

    arrays = prepare("esc50", out / "meta.csv", {})
    assert arrays["mels"].shape == (2, 64, 251) and list(arrays["durations"]) == [5.0, 5.0]


def test_upstream_tampered_download_is_rejected(tmp_path, remote):
    remote.tamper.add("recordings/3_theo_12.wav")
    with pytest.raises(SystemExit) as exc:
        fetch.main(["--dataset", "fsdd", "--out", str(tmp_path / "fsdd"), "--status", str(tmp_path / "s.json")])
    assert exc.value.code == 2
    assert not (tmp_path / "fsdd" / "recordings" / "3_theo_12.wav").exists()
    assert not (tmp_path / "s.json").exists()
