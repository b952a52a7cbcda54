"""The class-disjoint split of ESC-50 (or a user's clips) for CLAP zero-shot evaluation, and the clips of each part
in memory.

ESC-50's 50 classes (or a user data set's labels) are split by a seeded draw into *seen* classes (contrastive
training, TeminAL stages) and *unseen* classes (zero-shot evaluation only: no clip and no caption of them is ever
trained on). Within the seen classes the fold ``val_fold`` (ESC-50's standard folds; a user table's fold column or
its seeded folds) is held out as a validation split (monitoring, never used to pick anything on the unseen classes).
The metadata is ESC-50's or a user's clip table (``readers.read_clip_table``). Clips are read through the shared data layer (``domains.audio.data.readers``), which
validates them (unreadable, empty, NaN, wrong rate) and resamples to the CLAP sample rate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from domains.audio.data.readers import fix_length, load_audio, read_clip_table
from ssl_core.errors import InputError

__all__ = ["ClapSplit", "class_names", "class_split", "ClipSet", "load_clips"]


def class_names(meta: pd.DataFrame) -> dict[int, str]:
    """ESC-50 target -> caption name ("chirping_birds" -> "chirping birds"), one name per target."""
    names: dict[int, str] = {}
    for target, category in meta[["target", "category"]].drop_duplicates().itertuples(index=False):
        name = str(category).replace("_", " ").strip()
        if int(target) in names and names[int(target)] != name:
            raise InputError(f"metadata: target {target} has two categories ({names[int(target)]!r}, {name!r})")
        names[int(target)] = name
    return names


@dataclass(frozen=True)
class ClapSplit:
    """Seen (training) and unseen (zero-shot test) class targets, and the validation fold of the seen classes."""

    seen: tuple[int, ...]
    unseen: tuple[int, ...]
    val_fold: int

    def to_json(self) -> dict[str, Any]:
        return {"seen": list(self.seen), "unseen": list(self.unseen), "val_fold": self.val_fold}


def class_split(targets: list[int] | np.ndarray, unseen_classes: int, seed: int, val_fold: int,
                max_classes: int | None = None) -> ClapSplit:
    """Seeded draw of ``unseen_classes`` classes held out from all training (sorted tuples, deterministic).

    ``max_classes`` first keeps a seeded subset of that many classes (tiny configs and tests: fewer captions)."""
    classes = sorted({int(t) for t in targets})
    if max_classes is not None and max_classes < len(classes):
        keep = np.random.default_rng(seed + 1).choice(classes, size=max_classes, replace=False)
        classes = sorted(int(c) for c in keep)
    if not 1 <= unseen_classes < len(classes) - 1:
        raise InputError(
            f"config: audio.clap.split.unseen_classes: must be between 1 and {len(classes) - 2}, got {unseen_classes}")
    rng = np.random.default_rng(seed)
    unseen = sorted(int(c) for c in rng.choice(classes, size=unseen_classes, replace=False))
    seen = [c for c in classes if c not in set(unseen)]
    return ClapSplit(tuple(seen), tuple(unseen), int(val_fold))


@dataclass
class ClipSet:
    """Fixed-length mono clips (float32, ``[N, samples]``) with their class targets, folds and file names."""

    waves: np.ndarray
    targets: np.ndarray
    folds: np.ndarray
    filenames: list[str]
    skipped: list[str] = field(default_factory=list)

    def subset(self, mask: np.ndarray) -> "ClipSet":
        idx = np.flatnonzero(mask)
        return ClipSet(self.waves[idx], self.targets[idx], self.folds[idx], [self.filenames[i] for i in idx],
                       list(self.skipped))

    def __len__(self) -> int:
        return len(self.targets)


def load_clips(meta_path: Path, sample_rate: int, seconds: float, targets: tuple[int, ...] | None = None,
               folds: tuple[int, ...] | None = None, limit_per_class: int | None = None,
               min_samples: int = 1024, exclude_folds: tuple[int, ...] = ()) -> tuple[ClipSet, dict[int, str]]:
    """Read the clips of the given classes / folds (all when None; none of ``exclude_folds``) of ESC-50 or a user's
    clip table (``read_clip_table``), padded or cut to ``seconds``.

    ``limit_per_class`` keeps the first clips of each class (tests and tiny configs). Metadata rows without a
    file are dropped by ``read_esc50_meta`` (counted, with a warning); clips shorter than ``min_samples`` (one STFT
    window) are skipped here the same way (``ClipSet.skipped``); unreadable, empty or NaN clips raise
    :class:`InputError` naming the file (``load_audio``). Returns the clips and the class names of the whole
    metadata table (the caption vocabulary).
    """
    meta = read_clip_table(meta_path)
    names = class_names(meta)
    if targets is not None:
        meta = meta[meta["target"].isin(targets)]
    if folds is not None:
        meta = meta[meta["fold"].isin(folds)]
    meta = meta[~meta["fold"].isin(exclude_folds)]
    if limit_per_class is not None:
        meta = meta.groupby("target", sort=False).head(limit_per_class)
    if meta.empty:
        raise InputError(f"{meta_path}: no clips for classes {targets} and folds {folds}")
    n = int(round(seconds * sample_rate))
    waves = np.zeros((len(meta), n), dtype=np.float32)
    keep = np.ones(len(meta), dtype=bool)
    for i, path in enumerate(meta["path"]):
        try:
            wave = load_audio(path, sample_rate)
        except InputError as exc:  # name the table's line too (its rows keep their file order)
            raise InputError(f"{meta_path}: line {int(meta.index[i]) + 2}: {exc}") from None
        keep[i] = len(wave) >= min_samples
        waves[i] = fix_length(wave, n)
    filenames = [str(f) for f in meta["filename"]]
    skipped = [f for f, k in zip(filenames, keep) if not k]
    if skipped:
        warnings.warn(f"{meta_path}: {len(skipped)} clips shorter than {min_samples} samples skipped "
                      f"({', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''})", stacklevel=2)
    clips = ClipSet(waves[keep], meta["target"].to_numpy(np.int64)[keep], meta["fold"].to_numpy(np.int64)[keep],
                    [f for f, k in zip(filenames, keep) if k], skipped)
    if len(clips) == 0:
        raise InputError(f"{meta_path}: every selected clip is shorter than {min_samples} samples")
    return clips, names
