"""The prepare stage on real clips, and every bad input the issue names: a one-line error naming the file and no
output, or a counted skip."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.audio.conftest import esc_subset, fsdd_subset, run_stage, write_wave

FSDD_HP = json.dumps({"fsdd": {"sample_rate": 8000, "clip_seconds": 1.0, "n_fft": 256, "hop_length": 128,
                               "n_mels": 32, "f_min": 0.0, "f_max": None, "top_db": 80.0, "dtype": "float32"}})


def _prepare(meta, out, dataset="fsdd", hp=FSDD_HP):
    return run_stage("domains.audio.data.prepare", "--dataset", dataset, "--meta", meta, "--out", out, "--hparams", hp)


def test_prepare_fsdd_real_clips(tmp_path, audio_mirror):
    meta = fsdd_subset(audio_mirror, tmp_path / "fsdd", n=10)
    out = tmp_path / "f.npz"
    proc = run_stage("domains.audio.data.prepare", "--dataset", "fsdd", "--meta", meta, "--out", out, "--hparams", FSDD_HP,
                     subprocess_=True)
    assert proc.returncode == 0, proc.stderr
    assert "fsdd: used 10 of 10 clips" in proc.stdout
    d = np.load(out)
    assert d["mels"].shape == (10, 32, 63) and d["mels"].dtype == np.float32 and np.isfinite(d["mels"]).all()
    rows = pd.read_csv(meta)
    assert d["labels"].tolist() == rows.digit.tolist() and d["split"].tolist() == rows.split.tolist()
    np.testing.assert_allclose(d["durations"], rows.num_samples / 8000, rtol=1e-6)
    assert int(d["n_missing"]) == 0 and int(d["n_short"]) == 0 and json.loads(str(d["config"]))["clip_samples"] == 8000


def test_prepare_esc50_real_clips(tmp_path, audio_mirror):
    meta = esc_subset(audio_mirror, tmp_path / "esc", n=4)
    out = tmp_path / "e.npz"
    proc = _prepare(meta, out, "esc50", "{}")
    assert proc.returncode == 0, proc.stderr
    d = np.load(out)
    assert d["mels"].shape == (4, 64, 251) and d["mels"].dtype == np.float16 and d["esc10"].all()
    assert d["classes"][0] == "dog" and (d["fold"] >= 1).all()


def _bad(tmp_path, audio_mirror, write):
    meta = fsdd_subset(audio_mirror, tmp_path / "fsdd", n=4)
    name = pd.read_csv(meta).filename[1]
    target = tmp_path / "fsdd" / "recordings" / name
    target.unlink()
    write(target)
    return meta, target


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(b"fLaC not really"), "cannot read audio"),
        (lambda p: p.write_bytes(b""), "cannot read audio"),
        (lambda p: write_wave(p.with_suffix(".wav"), np.zeros(0, np.float32), 8000, "FLOAT").rename(p), "holds no samples"),
        (lambda p: write_wave(p.with_suffix(".wav"), np.r_[np.zeros(3000), np.nan].astype(np.float32), 8000,
                              "FLOAT").rename(p), "NaN or infinite"),
        (lambda p: write_wave(p, np.zeros(8000, np.float32), 16000, "PCM_16"), "sample rate 16000 Hz, expected 8000 Hz"),
    ],
    ids=["unreadable", "empty-file", "no-samples", "nan", "wrong-rate"],
)
def test_bad_clip_fails_with_one_line_naming_it_and_no_output(tmp_path, audio_mirror, write, message):
    meta, target = _bad(tmp_path, audio_mirror, write)
    out = tmp_path / "f.npz"
    proc = _prepare(meta, out)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {target}: ") and message in lines[0], proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".f.npz*"))


def test_short_clip_and_missing_file_are_counted_skips(tmp_path, audio_mirror):
    meta = fsdd_subset(audio_mirror, tmp_path / "fsdd", n=6)
    names = pd.read_csv(meta).filename
    short = tmp_path / "fsdd" / "recordings" / names[2]
    short.unlink()
    write_wave(short, np.full(100, 0.1, np.float32), 8000, "PCM_16")  # 100 samples < one 256-sample window
    (tmp_path / "fsdd" / "recordings" / names[4]).unlink()
    out = tmp_path / "f.npz"
    proc = _prepare(meta, out)
    assert proc.returncode == 0, proc.stderr
    assert "used 4 of 6 clips (1 without a file, 1 shorter than one window skipped)" in proc.stdout
    assert "warning:" in proc.stdout
    d = np.load(out)
    assert int(d["n_short"]) == 1 and int(d["n_missing"]) == 1 and sorted(d["skipped"]) == sorted([names[2], names[4]])
    assert names[2] not in d["filenames"] and len(d["labels"]) == 4


def test_all_files_missing_and_bad_hparams(tmp_path, audio_mirror):
    meta = fsdd_subset(audio_mirror, tmp_path / "fsdd", n=3)
    shutil.rmtree(tmp_path / "fsdd" / "recordings")
    proc = _prepare(meta, tmp_path / "f.npz")
    assert proc.returncode == 2 and f"error: {meta}: none of its 3 audio files exist" in proc.stderr
    proc = _prepare(meta, tmp_path / "f.npz", hp="{not json")
    assert proc.returncode == 2 and "--hparams: not valid JSON" in proc.stderr
    proc = _prepare(meta, tmp_path / "f.npz", hp='{"fsdd": {"dtype": "float64"}}')
    assert proc.returncode == 2 and "config: audio.data.fsdd.dtype: 'float64' is not one of" in proc.stderr


def test_settings_come_from_config_yaml_config_files_and_hparams(tmp_path, audio_mirror):
    meta = fsdd_subset(audio_mirror, tmp_path / "fsdd", n=2)
    cfg = tmp_path / "mine.yaml"
    cfg.write_text("audio:\n  data:\n    fsdd: {n_mels: 16, dtype: float32}\n")
    out = tmp_path / "f.npz"
    proc = run_stage("domains.audio.data.prepare", "--dataset", "fsdd", "--meta", meta, "--out", out, "--config", cfg,
                     "--hparams", '{"fsdd": {"dtype": "float16"}}')
    assert proc.returncode == 0, proc.stderr
    d = np.load(out)  # n_mels from the file, dtype from --hparams, the rest from config/config.yaml
    assert d["mels"].shape == (2, 16, 63) and d["mels"].dtype == np.float16
    assert json.loads(str(d["config"]))["hop_length"] == 128
