"""Build a class-disjoint metric-learning data set from another domain's outputs.

    python -m domains.metric.data.build --dataset esc50 --source results/audio/features/esc50.npz \
        --out results/metric/data/esc50.npz [--config ...] [--hparams ...]
    python -m domains.metric.data.build --dataset species --source results/genomics/data/fragments.npz \
        --out results/metric/data/species.npz

* ``esc50``: the audio domain's log-mels (``domains.audio.data.prepare``); classes with index below
  ``data.esc50.train_classes`` are the training classes, the others the test classes (fixed by class index, as
  CUB's 100/100 split); frames average-pooled by ``data.esc50.time_pool``.
* ``species``: the genomics domain's fragments (``domains.genomics.data.preprocess``): up to
  ``data.species.per_species`` training fragments of each training species (the first fragment of each positive
  pair, in file order), and every held-out fragment of the held-out species (never seen by any genomics training)
  as the test classes. Each fragment becomes its canonical k-mer profile (``data.species.kmer``: a k-mer and its
  reverse complement counted together, frequencies summing to 1); canonical TNF (136-d, the k = 4 profile, equal to
  ``domains.genomics.dnabert_s.tnf.tnf``) is stored beside it for the baseline row.

Output (atomic ``.npz``): ``x`` (examples), ``y`` (class 0..C-1, the training classes first), ``test`` (bool: a test
class), ``classes`` (names), ``tnf`` (species only) and ``config``. Bad input (fewer than two training or test
classes, a class with a single example, a malformed source) stops with one line and writes nothing.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from domains.metric.settings import DATASETS, STAGE_PARTS
from ssl_core.atomic import atomic_path
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors

__all__ = ["canonical_kmer_index", "kmer_profiles", "build_esc50", "build_species", "check_classes", "main"]

_CODE = np.full(256, 4, dtype=np.int64)
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _i


def canonical_kmer_index(k: int) -> np.ndarray:
    """Map from the ``4**k`` k-mer indices (base 4, A=0 C=1 G=2 T=3) to canonical classes (a k-mer and its reverse
    complement share one; 136 for k = 4, 512 for k = 5), numbered in order of first appearance."""
    classes: dict[int, int] = {}
    out = np.empty(4**k, dtype=np.int64)
    for code in range(4**k):
        digits = [(code >> (2 * (k - 1 - p))) & 3 for p in range(k)]
        rc = 0
        for d in reversed(digits):
            rc = rc * 4 + (3 - d)
        out[code] = classes.setdefault(min(code, rc), len(classes))
    return out


def kmer_profiles(seqs: np.ndarray, k: int) -> np.ndarray:
    """Canonical k-mer frequencies ``[N, classes]`` (float32) of ASCII sequences ``[N, L]`` (uint8); k-mers with a
    base other than A, C, G, T are skipped; a sequence without a valid k-mer gets the uniform profile."""
    canon = canonical_kmer_index(k)
    n_classes = int(canon.max()) + 1
    codes = _CODE[np.asarray(seqs, dtype=np.uint8)]
    n, length = codes.shape
    if length < k:
        return np.full((n, n_classes), 1 / n_classes, dtype=np.float32)
    idx = np.zeros((n, length - k + 1), dtype=np.int64)
    ok = np.ones_like(idx, dtype=bool)
    for p in range(k):
        part = codes[:, p:length - k + 1 + p]
        idx = idx * 4 + np.minimum(part, 3)
        ok &= part < 4
    flat = canon[idx] + n_classes * np.arange(n)[:, None]
    counts = np.bincount(flat[ok], minlength=n * n_classes).reshape(n, n_classes).astype(np.float64)
    total = counts.sum(1, keepdims=True)
    prof = np.where(total > 0, counts / np.maximum(total, 1), 1 / n_classes)
    return prof.astype(np.float32)


def check_classes(y: np.ndarray, test: np.ndarray, where: str) -> None:
    """One clear error unless there are at least two training and two test classes and every class has at least
    two examples (a query needs another example of its class, a metric loss a positive)."""
    train_classes = np.unique(y[~test])
    test_classes = np.unique(y[test])
    if train_classes.size < 2:
        raise InputError(f"{where}: {train_classes.size} training class(es); metric learning needs at least 2")
    if test_classes.size < 2:
        raise InputError(f"{where}: {test_classes.size} test class(es); retrieval needs at least 2")
    counts = np.bincount(y)
    single = [int(c) for c in np.unique(y) if counts[c] < 2]
    if single:
        raise InputError(f"{where}: class {single[0]} has a single example ({len(single)} such classes); every "
                         "class needs at least 2")


def _load(source: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(source, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise InputError(f"{source}: missing array {missing[0]!r} (not an output of the expected stage)")
            return {k: z[k] for k in keys}
    except (OSError, ValueError) as exc:
        raise InputError(f"{source}: not a readable .npz ({exc})") from None


def build_esc50(source: Path, hp: dict[str, Any]) -> dict[str, np.ndarray]:
    """Class-disjoint ESC-50 from the audio domain's log-mels (see the module docstring)."""
    cfg = hp["data"]["esc50"]
    d = _load(source, ("mels", "labels", "classes"))
    x, labels, names = d["mels"], d["labels"].astype(np.int64), d["classes"].astype(str)
    if x.ndim != 3 or labels.shape != (x.shape[0],):
        raise InputError(f"{source}: mels must be [N, mels, frames] with one label per clip")
    if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
        raise InputError(f"{source}: labels outside the {len(names)} classes")
    pool = int(cfg["time_pool"])
    if pool > 1:
        frames = x.shape[2] // pool * pool
        if frames == 0:
            raise InputError(f"{source}: clips of {x.shape[2]} frames are shorter than time_pool {pool}")
        x = x[:, :, :frames].astype(np.float32).reshape(x.shape[0], x.shape[1], -1, pool).mean(3)
    present = np.unique(labels)  # renumber the classes present, keeping class-index order
    y = np.searchsorted(present, labels)
    test = labels >= int(cfg["train_classes"])
    check_classes(y, test, f"{source} (esc50, train_classes {cfg['train_classes']})")
    return {"x": x.astype(np.float16), "y": y, "test": test, "classes": names[present]}


def build_species(source: Path, hp: dict[str, Any]) -> dict[str, np.ndarray]:
    """Species-disjoint fragments from the genomics domain's preprocess output (see the module docstring)."""
    cfg = hp["data"]["species"]
    d = _load(source, ("pairs", "pair_species", "eval_seqs", "eval_species", "train_species",
                       "eval_species_names"))
    pairs, pair_sp = d["pairs"], d["pair_species"].astype(np.int64)
    if pairs.ndim != 4 or pairs.shape[:2] != pair_sp.shape or pairs.shape[2] != 2:
        raise InputError(f"{source}: pairs must be [batches, pairs, 2, bp] with one species per pair")
    first = pairs[:, :, 0].reshape(-1, pairs.shape[-1])
    sp = pair_sp.reshape(-1)
    keep = np.zeros(sp.shape, dtype=bool)
    per = int(cfg["per_species"])
    for s in np.unique(sp):
        keep[np.flatnonzero(sp == s)[:per]] = True
    train_seqs, train_y = first[keep], sp[keep]
    eval_seqs, eval_y = d["eval_seqs"], d["eval_species"].astype(np.int64)
    n_train = len(d["train_species"])
    names = np.concatenate([d["train_species"].astype(str), d["eval_species_names"].astype(str)])
    k = int(cfg["kmer"])
    x = np.concatenate([kmer_profiles(train_seqs, k), kmer_profiles(eval_seqs, k)])
    y_all = np.concatenate([train_y, eval_y + n_train])
    present = np.unique(y_all)
    y = np.searchsorted(present, y_all)
    test = np.concatenate([np.zeros(len(train_y), bool), np.ones(len(eval_y), bool)])
    check_classes(y, test, f"{source} (species)")
    t = np.concatenate([kmer_profiles(train_seqs, 4), kmer_profiles(eval_seqs, 4)])  # = tnf() of each fragment
    return {"x": x, "y": y, "test": test, "classes": names[present], "tnf": t}


def build(dataset: str, source: Path, hp: dict[str, Any]) -> dict[str, np.ndarray]:
    if dataset not in DATASETS:
        raise InputError(f"unknown metric data set {dataset!r} (known: {', '.join(DATASETS)})")
    arrays = build_esc50(source, hp) if dataset == "esc50" else build_species(source, hp)
    arrays["config"] = np.array(json.dumps({"dataset": dataset, **hp["data"][dataset]}, sort_keys=True))
    return arrays


def write_npz(dest: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with atomic_path(dest) as tmp:
        tmp.write_bytes(buf.getvalue())


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.metric.data.build", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--source", required=True, type=Path,
                   help="esc50: results/audio/features/esc50.npz; species: results/genomics/data/fragments.npz")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--config", action="append", type=Path, help="config YAML merged over config/config.yaml")
    p.add_argument("--hparams", default=None, help="JSON object merged over the metric section")
    args = p.parse_args(argv)
    if not args.source.is_file():
        raise InputError(f"{args.source}: no such file")
    hp = resolve_section(("metric",), args.config, args.hparams, parts=STAGE_PARTS["data"])
    arrays = build(args.dataset, args.source, hp)
    write_npz(args.out, arrays)
    test = arrays["test"]
    print(f"{args.dataset}: {int((~test).sum())} training examples of {len(np.unique(arrays['y'][~test]))} classes, "
          f"{int(test.sum())} test examples of {len(np.unique(arrays['y'][test]))} classes, x {arrays['x'].shape[1:]}")


if __name__ == "__main__":
    main()
