"""Metadata readers and the clip loader, on the real mirror files and on crafted bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from domains.audio.data.readers import fix_length, load_audio, read_esc50_meta, read_fsdd_meta
from ssl_core.errors import InputError
from tests.audio.conftest import esc_subset, fsdd_subset, write_wave


def test_real_esc50_meta(audio_mirror):
    df = read_esc50_meta(audio_mirror / "audio" / "esc50" / "meta.csv")
    assert list(df.columns[:6]) == ["filename", "fold", "target", "category", "esc10", "path"]
    assert len(df) == 2000 and int(df.esc10.sum()) == 400
    assert sorted(df.fold.unique()) == [1, 2, 3, 4, 5] and df.target.nunique() == 50
    assert df.groupby("fold").size().eq(400).all()
    assert df[df.esc10].target.nunique() == 10
    assert all(Path(p).is_file() for p in df.path.head(20)) and df.attrs["missing"] == []


def test_real_fsdd_meta(audio_mirror):
    df = read_fsdd_meta(audio_mirror / "audio" / "fsdd" / "meta.csv")
    assert list(df.columns[:6]) == ["filename", "digit", "speaker", "index", "split", "path"]
    assert len(df) == 3000 and df.speaker.nunique() == 6
    assert (df.split == "test").sum() == 300 and set(df[df.split == "test"]["index"]) == set(range(5))


def test_fsdd_meta_from_file_names_only(tmp_path, audio_mirror):
    meta = fsdd_subset(audio_mirror, tmp_path / "fsdd", n=6)
    names = pd.read_csv(meta)[["filename"]]
    names.to_csv(meta, index=False)
    df = read_fsdd_meta(meta)
    assert df.digit.tolist() == [int(f.split("_")[0]) for f in names.filename]
    assert set(df.split) == {"test", "train"}


def test_meta_row_without_file_is_a_counted_skip(tmp_path, audio_mirror):
    meta = esc_subset(audio_mirror, tmp_path / "esc", n=5)
    gone = pd.read_csv(meta).filename[2]
    (tmp_path / "esc" / "audio" / gone).unlink()
    with pytest.warns(UserWarning, match="1 of 5 rows have no audio file"):
        df = read_esc50_meta(meta)
    assert len(df) == 4 and df.attrs["missing"] == [gone]


def test_every_row_without_file_is_an_error(tmp_path, audio_mirror):
    meta = esc_subset(audio_mirror, tmp_path / "esc", n=3)
    for f in (tmp_path / "esc" / "audio").iterdir():
        f.unlink()
    with pytest.raises(InputError, match=rf"^{meta}: none of its 3 audio files exist"):
        read_esc50_meta(meta)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda df: df.drop(columns="fold"), "missing column(s) fold"),
        (lambda df: df.assign(fold=["x"] + list(df.fold[1:])), "line 2: column fold: 'x' is not an integer in [1, 5]"),
        (lambda df: df.assign(fold=[7] + list(df.fold[1:])), "line 2: column fold: '7' is not an integer in [1, 5]"),
        (lambda df: df.assign(esc10=["maybe"] + list(df.esc10[1:])), "line 2: column esc10: 'maybe' is not True/False"),
        (lambda df: pd.concat([df, df.head(1)]), "duplicate file name"),
        (lambda df: df.assign(filename=["../x.ogg"] + list(df.filename[1:])), "line 2: invalid file name '../x.ogg'"),
        (lambda df: df.head(0), "no rows"),
    ],
)
def test_malformed_esc50_meta_fails_naming_file(tmp_path, audio_mirror, edit, message):
    meta = esc_subset(audio_mirror, tmp_path / "esc", n=4)
    edit(pd.read_csv(meta)).to_csv(meta, index=False)
    with pytest.raises(InputError) as err:
        read_esc50_meta(meta)
    assert str(err.value).startswith(f"{meta}: ") and message in str(err.value)


def test_fsdd_split_contradicting_index_is_an_error(tmp_path, audio_mirror):
    meta = fsdd_subset(audio_mirror, tmp_path / "fsdd", n=4)
    df = pd.read_csv(meta)
    df.loc[0, "split"] = "train"  # index 0-4 is the upstream test set
    df.to_csv(meta, index=False)
    with pytest.raises(InputError, match="line 2: split 'train' but index 0 belongs to 'test'"):
        read_fsdd_meta(meta)


def test_not_a_csv_and_missing_meta(tmp_path):
    with pytest.raises(InputError, match="metadata file not found"):
        read_fsdd_meta(tmp_path / "nope.csv")
    bad = tmp_path / "meta.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage\x00\n\x01")
    with pytest.raises(InputError, match=f"^{bad}: "):
        read_fsdd_meta(bad)


def test_load_real_clips_and_resample(audio_mirror):
    ogg = next((audio_mirror / "audio" / "esc50" / "audio").glob("*.ogg"))
    wave = load_audio(ogg, 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1 and abs(len(wave) - 80000) <= 1
    assert 0.01 < np.abs(wave).max() < 2  # lossy Vorbis may overshoot full scale a little
    flac = audio_mirror / "audio" / "fsdd" / "recordings" / "0_george_0.flac"
    native = load_audio(flac, 8000, allowed_rates={8000})
    up = load_audio(flac, 16000)
    assert len(native) == 2384 and len(up) == 2 * len(native)
    # resampling keeps the signal: downsampling the upsampled clip gives back the original closely
    import torch
    import torchaudio.functional as AF

    back = AF.resample(torch.from_numpy(up), 16000, 8000).numpy()
    assert np.corrcoef(back, native)[0, 1] > 0.99


def test_stereo_is_averaged(tmp_path):
    t = np.linspace(0, 1, 8000, dtype=np.float32)
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), np.zeros_like(t)
    path = write_wave(tmp_path / "st.wav", np.stack([left, right], axis=1), 8000, "FLOAT")
    np.testing.assert_allclose(load_audio(path, 8000), left / 2, atol=1e-6)


def test_bad_audio_files_fail_naming_the_file(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00not really a wave file")
    empty_bytes = tmp_path / "empty.flac"
    empty_bytes.write_bytes(b"")
    no_samples = write_wave(tmp_path / "nosamples.wav", np.zeros(0, dtype=np.float32), 8000, "FLOAT")
    nan = np.zeros(4000, dtype=np.float32)
    nan[100] = np.nan
    nan_path = write_wave(tmp_path / "nan.wav", nan, 8000, "FLOAT")
    inf = np.zeros(4000, dtype=np.float32)
    inf[7] = np.inf
    inf_path = write_wave(tmp_path / "inf.wav", inf, 8000, "FLOAT")
    cases = [(garbage, "cannot read audio"), (empty_bytes, "cannot read audio"), (no_samples, "holds no samples"),
             (nan_path, "1 NaN or infinite sample(s)"), (inf_path, "1 NaN or infinite sample(s)"),
             (tmp_path / "absent.wav", "cannot read audio")]
    for path, message in cases:
        with pytest.raises(InputError) as err:
            load_audio(path, 8000)
        assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)


def test_wrong_sample_rate_is_an_error_when_rates_are_constrained(tmp_path):
    path = write_wave(tmp_path / "a.wav", np.zeros(1000, dtype=np.float32), 22050, "PCM_16")
    with pytest.raises(InputError, match=rf"^{path}: sample rate 22050 Hz, expected 8000 Hz"):
        load_audio(path, 8000, allowed_rates={8000})
    assert len(load_audio(path, 11025)) == 500  # unconstrained: resampled


def test_fix_length():
    w = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(fix_length(w, 4), w[:4])
    np.testing.assert_array_equal(fix_length(w, 4, offset=3), w[3:7])
    padded = fix_length(w, 13)
    assert padded.shape == (13,) and (padded[10:] == 0).all() and (padded[:10] == w).all()
    assert fix_length(np.ones((2, 3)), 5).shape == (2, 5)
    with pytest.raises(ValueError):
        fix_length(w, 0)
    with pytest.raises(ValueError):
        fix_length(w, 4, offset=8)
