"""Load every clip of one data set, fix its length, compute log-mel features once, and write them to one .npz.

    python -m domains.audio.data.prepare --dataset esc50 --meta resources/audio/esc50/meta.csv \
        --out results/audio/features/esc50.npz [--hparams '{"esc50": {...}}'] [--config FILE] [--threads 1]
    python -m domains.audio.data.prepare --dataset mybirds --meta mydata/clips.csv --out mybirds.npz

Settings: the ``audio.data`` section of config/config.yaml (and ``--config`` files) with ``--hparams`` (JSON) merged
on top (:func:`ssl_core.config.resolve_section`); the data set's own subsection (``user`` for a user's data set:
any name other than esc50 and fsdd, whose ``--meta`` is its clip table, ``readers.read_user_meta``) gives the
sample rate, the clip length and the log-mel parameters (:class:`domains.audio.data.features.LogMelConfig`).

Per clip: ``load_audio`` (soundfile, mono, resampled to the configured rate), then zero-padded at the end or
centre-cropped to ``clip_seconds``, then ``log_mel``. Written arrays (``numpy.load(path)``):

- ``mels`` [N, n_mels, frames] (float16 by default, ``dtype``), ``labels`` [N] (ESC-50 target 0-49; FSDD digit;
  a user's data set: the label's index in the sorted label names), ``classes`` (label names), ``filenames``,
  ``fold`` (ESC-50 and user data: fold 1-k; -1 for FSDD), ``split`` (FSDD ``train``/``test``; else ``fold<k>``),
  ``esc10`` (bool), ``speaker`` (FSDD; empty otherwise),
  ``durations`` (seconds before padding/cropping), ``config`` (JSON of the parameters used),
- counts: ``n_listed`` (metadata rows), ``n_missing`` (rows without a file: counted skip), ``n_short`` (clips
  shorter than one STFT window, ``n_fft`` samples after resampling: counted skip), ``skipped`` (their names).

Unreadable, empty or non-finite audio, and a sample rate the metadata contradicts, stop the stage with one line
naming the file (exit 2) and no output. The file is written atomically.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from ssl_core.atomic import atomic_path
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.runtime import set_threads

from domains.audio.data.readers import fix_length, load_audio, read_meta
from domains.audio.data.features import LogMelConfig, log_mel

DATASETS = ("esc50", "fsdd")  # shipped; any other name is a user's data set (settings section ``user``)
ESC50_RATES = (16000, 44100)  # mirror (16 kHz .ogg) and upstream (44.1 kHz .wav)


def dataset_params(dataset: str, hparams: dict) -> dict:
    """The data set's subsection of ``audio.data``: ``hparams`` (the section or any part of it) merged over
    config/config.yaml's section (:func:`ssl_core.config.resolve_section`), validated against the schema."""
    return resolve_section(("audio", "data"), None, json.dumps(hparams))[dataset if dataset in DATASETS else "user"]


def centre_fix(wave: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad at the end to ``n`` samples, or keep the middle ``n`` samples of a longer clip."""
    return fix_length(wave, n, offset=max(0, (wave.shape[-1] - n) // 2))


def prepare(dataset: str, meta_path: Path, hparams: dict, *, batch: int = 64, limit: int | None = None) -> dict:
    """All arrays of the output file (see the module docstring)."""
    params = dataset_params(dataset, hparams)
    cfg = LogMelConfig.from_dict(params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta = read_meta(dataset, meta_path)
    for w in caught:
        print(f"warning: {w.message}")
    missing = list(meta.attrs.get("missing", []))
    n_listed = len(meta) + len(missing)
    if limit:
        meta = meta.iloc[:limit]
    n_samples = int(round(params["clip_seconds"] * cfg.sample_rate))
    keep, waves, durations, short = [], [], [], []
    mels: list[torch.Tensor] = []
    for i, row in enumerate(meta.itertuples(index=False)):
        if dataset == "fsdd" and "sample_rate" in meta.columns:
            allowed = (int(row.sample_rate),)
        elif dataset == "esc50":
            allowed = ESC50_RATES
        else:  # FSDD without recorded rates, a user's clips: any rate, resampled
            allowed = None
        try:
            wave = load_audio(row.path, cfg.sample_rate, allowed_rates=allowed)
        except InputError as exc:
            if dataset in DATASETS:
                raise
            raise InputError(f"{meta_path}: line {i + 2}: {exc}") from None  # a user's table: name its line too
        if wave.shape[0] < cfg.n_fft:
            short.append(row.filename)
            continue
        keep.append(i)
        durations.append(wave.shape[0] / cfg.sample_rate)
        waves.append(centre_fix(wave, n_samples))
        if len(waves) == batch:
            mels.append(log_mel(torch.from_numpy(np.stack(waves)), cfg))
            waves = []
    if waves:
        mels.append(log_mel(torch.from_numpy(np.stack(waves)), cfg))
    if not keep:
        raise InputError(f"{meta_path}: no usable clip (all {len(meta)} shorter than one window of {cfg.n_fft} samples)")
    used = meta.iloc[keep]
    if dataset == "esc50":
        labels = used["target"].to_numpy()
        names = meta.drop_duplicates("target").sort_values("target")
        classes = np.array([""] * 50, dtype=object)
        classes[names["target"].to_numpy()] = names["category"].to_numpy()
        fold = used["fold"].to_numpy()
        split = np.array([f"fold{k}" for k in fold])
        esc10 = used["esc10"].to_numpy(dtype=bool)
        speaker = np.array([""] * len(used))
    elif dataset not in DATASETS:  # a user's data set (readers.read_user_meta)
        labels = used["target"].to_numpy()
        names = meta.drop_duplicates("target").sort_values("target")
        classes = names["label"].to_numpy()
        fold = used["fold"].to_numpy()
        split = np.array([f"fold{k}" for k in fold])
        esc10 = np.zeros(len(used), dtype=bool)
        speaker = np.array([""] * len(used))
    else:
        labels = used["digit"].to_numpy()
        classes = np.array([str(d) for d in range(10)], dtype=object)
        fold = np.full(len(used), -1)
        split = used["split"].to_numpy().astype(str)
        esc10 = np.zeros(len(used), dtype=bool)
        speaker = used["speaker"].to_numpy().astype(str)
    return {
        "mels": torch.cat(mels).numpy().astype(params["dtype"]),
        "labels": labels.astype(np.int64),
        "classes": classes.astype(str),
        "filenames": used["filename"].to_numpy().astype(str),
        "fold": fold.astype(np.int64),
        "split": split.astype(str),
        "esc10": esc10,
        "speaker": speaker,
        "durations": np.asarray(durations, dtype=np.float32),
        "config": np.array(json.dumps({"dataset": dataset, **params, "clip_samples": n_samples})),
        "n_listed": np.array(n_listed),
        "n_missing": np.array(len(missing)),
        "n_short": np.array(len(short)),
        "skipped": np.array(missing + short, dtype=str),
    }


def write_npz(dest: Path, arrays: dict) -> None:
    """``numpy.savez`` to ``dest`` atomically (through a file handle, so no ``.npz`` suffix is appended)."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.data.prepare", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="esc50, fsdd, or the name of a user's data set")
    p.add_argument("--meta", required=True, type=Path,
                   help="meta.csv written by domains.audio.data.fetch, or a user's clip table (file,label[,fold][,caption])")
    p.add_argument("--out", required=True, type=Path, help="output .npz")
    p.add_argument("--hparams", default=None, help="JSON object merged over the audio.data config section")
    p.add_argument("--config", action="append", type=Path,
                   help="config YAML merged over config/config.yaml (repeatable)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=None, help="only the first N clips (tests)")
    args = p.parse_args(argv)
    set_threads(args.threads)
    hparams = resolve_section(("audio", "data"), args.config, args.hparams)
    start = time.perf_counter()
    arrays = prepare(args.dataset, args.meta, hparams, limit=args.limit)
    write_npz(args.out, arrays)
    n = len(arrays["labels"])
    took = time.perf_counter() - start
    print(f"{args.dataset}: used {n} of {int(arrays['n_listed'])} clips ({int(arrays['n_missing'])} without a file, "
          f"{int(arrays['n_short'])} shorter than one window skipped); log-mels {tuple(arrays['mels'].shape[1:])} "
          f"-> {args.out} in {took:.1f} s ({n / took:.0f} clips/s)")


if __name__ == "__main__":
    main()
