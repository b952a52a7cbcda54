"""Reading the audio data sets: metadata tables and clips.

Two layouts, the ones ``domains.audio.data.fetch`` writes (and the mirror holds)::

    <dir>/meta.csv + <dir>/audio/<filename>         ESC-50 (mirror: 16 kHz .ogg; upstream: 44.1 kHz .wav)
    <dir>/meta.csv + <dir>/recordings/<filename>    FSDD (mirror: 8 kHz .flac; upstream: .wav)

and a user's own clips (``audio.user_datasets``): one CSV with the columns ``file, label[, fold][, caption]``,
each ``file`` a path relative to the CSV's folder, any format soundfile reads, any sample rate
(:func:`read_user_meta`).

Bad-input policy (also in ``domains/audio/README.md``):

- a metadata file that is missing, not CSV, lacks a column, has an empty or non-integer fold/target/digit/index,
  a duplicate file name, or no rows: :class:`InputError` naming the file (and the line);
- a metadata row whose audio file does not exist: **counted skip** with a warning (``missing`` in the returned
  table's ``attrs``), unless every row is missing, which is an :class:`InputError`;
- an audio file that cannot be decoded, holds no samples, or holds NaN/inf: :class:`InputError` naming the file
  (a clip that passed its checksum and still fails is corrupt data, which should stop the run, not be hidden);
- a file whose sample rate differs from the requested one is resampled (``torchaudio.functional.resample``); a
  rate outside ``allowed_rates`` (e.g. the 8 kHz that FSDD's metadata promises) is an :class:`InputError`;
- a clip shorter than the analysis window is a counted skip in ``prepare`` (see there), not an error here.

A user's clip table is stricter (nothing is skipped): an unknown or missing column, an empty or duplicate file,
a path that is absolute or leaves the CSV's folder, a file that does not exist, an empty label, a label with one
clip, a fold that is not a positive integer, or two captions for one label is an :class:`InputError` naming the
file and line.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from ssl_core.errors import InputError

__all__ = [
    "ESC50_COLUMNS",
    "FSDD_COLUMNS",
    "AUDIO_DIRS",
    "read_esc50_meta",
    "read_fsdd_meta",
    "read_meta",
    "read_user_meta",
    "read_clip_table",
    "USER_COLUMNS",
    "USER_FOLDS",
    "load_audio",
    "fix_length",
]

ESC50_COLUMNS = ["filename", "fold", "target", "category", "esc10", "path"]
FSDD_COLUMNS = ["filename", "digit", "speaker", "index", "split", "path"]
AUDIO_DIRS = {"esc50": "audio", "fsdd": "recordings"}
USER_COLUMNS = ("file", "label", "fold", "caption")  # a user's clip table: file and label required
USER_FOLDS = 5  # a user table without a fold column: each label's clips dealt into folds 1-5 (seeded)
USER_FOLD_SEED = 0
FSDD_TEST_INDICES = range(0, 5)  # upstream convention: recordings with index 0-4 are the test set


def _load_table(path: Path, what: str) -> pd.DataFrame:
    """A CSV file as strings (nothing read as NaN); one InputError line when it is missing or not CSV."""
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable CSV table ({first})") from None


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    df = _load_table(path, "metadata file")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(map(str, df.columns))})")
    if df.empty:
        raise InputError(f"{path}: no rows")
    dup = df["filename"][df["filename"].duplicated()]
    if not dup.empty:
        line = int(dup.index[0]) + 2
        raise InputError(f"{path}: line {line}: duplicate file name {dup.iloc[0]!r}")
    for i, name in enumerate(df["filename"]):
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise InputError(f"{path}: line {i + 2}: invalid file name {name!r}")
    return df


def _int_column(df: pd.DataFrame, col: str, path: Path, lo: int | None = None, hi: int | None = None) -> pd.Series:
    out = pd.to_numeric(df[col], errors="coerce")
    bad = out.isna() | (out != out.round())
    if lo is not None:
        bad |= out < lo
    if hi is not None:
        bad |= out > hi
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}: line {i + 2}: column {col}: {df[col].iloc[i]!r} is not an integer"
                         + (f" in [{lo}, {hi}]" if lo is not None and hi is not None else ""))
    return out.astype(int)


def _bool_column(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    mapping = {"true": True, "false": False, "1": True, "0": False}
    low = df[col].str.strip().str.lower()
    bad = ~low.isin(list(mapping))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}: line {i + 2}: column {col}: {df[col].iloc[i]!r} is not True/False")
    return low.map(mapping).astype(bool)


def _attach_paths(df: pd.DataFrame, meta_path: Path, audio_dir: str, *, drop_missing: bool) -> pd.DataFrame:
    """Add the ``path`` column; drop (and count) rows whose file does not exist."""
    base = meta_path.parent / audio_dir
    df = df.copy()
    df["path"] = [str(base / f) for f in df["filename"]]
    exists = np.array([os.path.isfile(p) for p in df["path"]], dtype=bool)
    missing = df.loc[~exists, "filename"].tolist()
    if drop_missing and missing:
        if len(missing) == len(df):
            raise InputError(f"{meta_path}: none of its {len(df)} audio files exist under {base}")
        warnings.warn(f"{meta_path}: {len(missing)} of {len(df)} rows have no audio file under {base} "
                      f"(skipped; first: {missing[0]})", stacklevel=3)
        df = df.loc[exists].reset_index(drop=True)
    df.attrs["missing"] = missing
    return df


def read_esc50_meta(path: str | os.PathLike[str], *, drop_missing: bool = True) -> pd.DataFrame:
    """ESC-50 metadata (upstream ``meta/esc50.csv`` layout) with an absolute-ish ``path`` per clip.

    Columns: filename, fold (1-5), target (0-49), category, esc10 (bool), path. Extra columns of the file
    (src_file, take, sha256) are kept after these. Rows without an audio file are dropped and counted in
    ``df.attrs["missing"]`` (a warning is issued); all rows missing is an :class:`InputError`.
    """
    path = Path(path)
    df = _read_csv(path, ["filename", "fold", "target", "category", "esc10"])
    df["fold"] = _int_column(df, "fold", path, 1, 5)
    df["target"] = _int_column(df, "target", path, 0, 49)
    df["esc10"] = _bool_column(df, "esc10", path)
    df = _attach_paths(df, path, AUDIO_DIRS["esc50"], drop_missing=drop_missing)
    rest = [c for c in df.columns if c not in ESC50_COLUMNS]
    out = df[ESC50_COLUMNS + rest]
    out.attrs = df.attrs
    return out


def fsdd_fields(filename: str) -> tuple[int, str, int]:
    """(digit, speaker, index) from an FSDD file name ``{digit}_{speaker}_{index}.wav|.flac``."""
    stem = filename.rsplit(".", 1)[0]
    parts = stem.split("_")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit() or not parts[1]:
        raise ValueError(f"{filename!r} is not named digit_speaker_index")
    return int(parts[0]), parts[1], int(parts[2])


def read_fsdd_meta(path: str | os.PathLike[str], *, drop_missing: bool = True) -> pd.DataFrame:
    """FSDD metadata with a ``path`` per recording.

    Columns: filename, digit (0-9), speaker, index, split (``test`` for index 0-4, else ``train``: the upstream
    convention), path. Extra columns (sha256, sample_rate, ...) are kept after these. A file with only a
    ``filename`` column is accepted (digit, speaker and index are parsed from the names); a ``split`` column that
    disagrees with the index is an :class:`InputError`. Missing audio files: as :func:`read_esc50_meta`.
    """
    path = Path(path)
    df = _read_csv(path, ["filename"])
    if not {"digit", "speaker", "index"} <= set(df.columns):
        parsed = []
        for i, name in enumerate(df["filename"]):
            try:
                parsed.append(fsdd_fields(name))
            except ValueError as exc:
                raise InputError(f"{path}: line {i + 2}: {exc}") from None
        df["digit"] = [str(p[0]) for p in parsed]
        df["speaker"] = [p[1] for p in parsed]
        df["index"] = [str(p[2]) for p in parsed]
    df["digit"] = _int_column(df, "digit", path, 0, 9)
    df["index"] = _int_column(df, "index", path, 0, None)
    if (df["speaker"] == "").any():
        i = int(np.flatnonzero((df["speaker"] == "").to_numpy())[0])
        raise InputError(f"{path}: line {i + 2}: empty speaker")
    expected = np.where(df["index"].isin(FSDD_TEST_INDICES), "test", "train")
    if "split" in df.columns:
        bad = df["split"].to_numpy() != expected
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}: line {i + 2}: split {df['split'].iloc[i]!r} but index {df['index'].iloc[i]} "
                             f"belongs to {str(expected[i])!r} (upstream: index 0-4 is the test set)")
    df["split"] = expected
    if "sample_rate" in df.columns:
        df["sample_rate"] = _int_column(df, "sample_rate", path, 1, None)
    df = _attach_paths(df, path, AUDIO_DIRS["fsdd"], drop_missing=drop_missing)
    rest = [c for c in df.columns if c not in FSDD_COLUMNS]
    out = df[FSDD_COLUMNS + rest]
    out.attrs = df.attrs
    return out


def read_meta(dataset: str, path: str | os.PathLike[str], *, drop_missing: bool = True) -> pd.DataFrame:
    """:func:`read_esc50_meta` or :func:`read_fsdd_meta` by data set name; any other name is a user's data set
    (:func:`read_user_meta`, which skips nothing)."""
    if dataset == "esc50":
        return read_esc50_meta(path, drop_missing=drop_missing)
    if dataset == "fsdd":
        return read_fsdd_meta(path, drop_missing=drop_missing)
    return read_user_meta(path)


def read_user_meta(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A user's clip table (``audio.user_datasets``) in ESC-50's layout, so every stage reads it like ESC-50.

    The CSV has the columns ``file`` (a path relative to the CSV's folder) and ``label``, and optionally ``fold``
    (a positive integer; without it each label's clips are dealt into folds 1-5 in a seeded random order, seed 0)
    and ``caption`` (the text CLAP pairs with the label's clips; default: the label, ``_`` read as a space; one
    caption per label). Returned columns: filename (the ``file`` entry), fold, target (the label's index in the
    sorted label names), category (the caption), esc10 (False), path, label. Every error of the module docstring's
    user-table list raises :class:`InputError` naming the file and line.
    """
    path = Path(path)
    df = _load_table(path, "clip table")
    columns = [str(c).strip() for c in df.columns]
    unknown = [c for c in columns if c not in USER_COLUMNS]
    if unknown:
        raise InputError(f"{path}: line 1: unknown column {unknown[0]!r} (allowed: {', '.join(USER_COLUMNS)})")
    missing = [c for c in ("file", "label") if c not in columns]
    if missing:
        raise InputError(f"{path}: line 1: missing column(s) {', '.join(missing)} (a clip table has file, label"
                         f"[, fold][, caption])")
    if len(set(columns)) != len(columns):
        raise InputError(f"{path}: line 1: a column appears twice")
    df.columns = columns
    if df.empty:
        raise InputError(f"{path}: no rows")
    df = df.apply(lambda col: col.str.strip())
    root = path.parent.resolve()
    paths, seen = [], {}
    for i, name in enumerate(df["file"]):
        line = i + 2
        if not name:
            raise InputError(f"{path}: line {line}: empty file")
        if name in seen:
            raise InputError(f"{path}: line {line}: file {name!r} listed twice (first on line {seen[name]})")
        seen[name] = line
        if Path(name).is_absolute():
            raise InputError(f"{path}: line {line}: file {name!r} is an absolute path (give it relative to {root})")
        full = (root / name).resolve()
        if not full.is_relative_to(root):
            raise InputError(f"{path}: line {line}: file {name!r} leaves the table's folder {root}")
        if not full.is_file():
            raise InputError(f"{path}: line {line}: file {name!r} not found ({full})")
        paths.append(str(full))
    labels = df["label"]
    if (labels == "").any():
        raise InputError(f"{path}: line {int(np.flatnonzero((labels == '').to_numpy())[0]) + 2}: empty label")
    counts = labels.value_counts()
    single = counts[counts < 2]
    if not single.empty:
        i = int(np.flatnonzero((labels == single.index[0]).to_numpy())[0])
        raise InputError(f"{path}: line {i + 2}: label {single.index[0]!r} has one clip (each label needs two)")
    names = sorted(counts.index)
    if len(names) < 2:
        raise InputError(f"{path}: one label ({names[0]!r}); a classifier needs two or more")
    if "fold" in df.columns:
        fold = _int_column(df, "fold", path, 1, None)
    else:
        rng = np.random.default_rng(USER_FOLD_SEED)
        fold = pd.Series(0, index=df.index, dtype=int)
        for name in names:
            rows = rng.permutation(np.flatnonzero((labels == name).to_numpy()))
            fold.iloc[rows] = np.arange(len(rows)) % USER_FOLDS + 1
    default = labels.str.replace("_", " ")
    caption = df["caption"].where(df["caption"] != "", default) if "caption" in df.columns else default
    captions: dict[str, tuple[str, int]] = {}
    for i, (label, text) in enumerate(zip(labels, caption)):
        if label in captions and captions[label][0] != text:
            raise InputError(f"{path}: line {i + 2}: label {label!r} has a second caption {text!r} (line "
                             f"{captions[label][1]}: {captions[label][0]!r}); give one caption per label")
        captions.setdefault(label, (text, i + 2))
    target = {name: k for k, name in enumerate(names)}
    out = pd.DataFrame({
        "filename": df["file"], "fold": fold.astype(int), "target": labels.map(target).astype(int),
        "category": caption, "esc10": False, "path": paths, "label": labels,
    })
    out.attrs["missing"] = []
    return out


def read_clip_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """ESC-50's metadata (:func:`read_esc50_meta`) or, when the table has a ``label`` column, a user's clip table
    (:func:`read_user_meta`): the CLAP stages take either as ``--meta``."""
    path = Path(path)
    try:
        header = pd.read_csv(path, dtype=str, nrows=0).columns
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        header = []
    return read_user_meta(path) if "label" in [str(c).strip() for c in header] else read_esc50_meta(path)


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int,
    *,
    allowed_rates: Collection[int] | None = None,
) -> np.ndarray:
    """One clip as a float32 mono array at ``sample_rate`` (values in [-1, 1] for PCM sources).

    Reads with soundfile, averages channels, and resamples with ``torchaudio.functional.resample`` when the file's
    rate differs. Raises :class:`InputError` naming the file when it cannot be decoded, holds no samples, holds
    NaN or inf, or (with ``allowed_rates``) has a sample rate not in that set.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    path = Path(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot read audio ({first})") from None
    if data.size == 0 or data.shape[0] == 0:
        raise InputError(f"{path}: audio file holds no samples")
    if allowed_rates is not None and rate not in allowed_rates:
        allowed = ", ".join(str(r) for r in sorted(allowed_rates))
        raise InputError(f"{path}: sample rate {rate} Hz, expected {allowed} Hz")
    if not np.isfinite(data).all():
        n_bad = int((~np.isfinite(data)).sum())
        raise InputError(f"{path}: {n_bad} NaN or infinite sample(s)")
    wave = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate:
        import torch
        import torchaudio.functional as AF

        wave = AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), rate, sample_rate).numpy()
    return np.ascontiguousarray(wave, dtype=np.float32)


def fix_length(wave: np.ndarray, n: int, *, offset: int = 0) -> np.ndarray:
    """``wave`` cropped (from ``offset``) or zero-padded at the end to exactly ``n`` samples (last axis)."""
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    length = wave.shape[-1]
    if length >= n:
        if not 0 <= offset <= length - n:
            raise ValueError(f"offset {offset} outside [0, {length - n}]")
        return wave[..., offset : offset + n]
    pad = [(0, 0)] * (wave.ndim - 1) + [(0, n - length)]
    return np.pad(wave, pad)
