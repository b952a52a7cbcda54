"""Tune part B without touching ESC-10: the ESC-10 protocol on groups of ESC-50 classes outside ESC-10.

    python -m domains.audio.semisup.dev --features results/audio/features/esc50.npz \
        --methods supervised_10,fixmatch_mixup --groups 0,1,2,3 --folds 1,2,3,4,5 --seeds 0 \
        [--override '{"pretrain": {"steps": 0}}'] [--config config/config.yaml] [--trunks DIR] [--compute JSON] \
        --out dev.jsonl

Why: ESC-10 has 30 validation clips per fold, so its validation error cannot resolve differences below about
3 points, and its test folds must stay unseen while settings are chosen. The 40 ESC-50 classes that are not in
ESC-10 (disjoint classes, disjoint clips) make 4 groups of 10 classes (a fixed seeded draw); each group is run with
the ESC-10 protocol (test fold held out, 10 % validation, 10 % of the rest labelled: 30 labelled / 260 unlabelled /
80 test clips), so one setting gives 20 runs and 1,600 test predictions per seed. Each line of ``--out`` is one run
(setting name, method, group, fold, seed, test and validation error); the printed table compares every method with
``supervised_10`` on the same group, fold and seed (mean difference and its standard error). The i-Mix trunk is
pretrained once per group, fold and seed and shared by the methods that use it; with ``--trunks DIR`` it is kept in
``DIR/group<g>_fold<k>_seed<s>/`` and reused by later settings whose pretraining settings are the same (settings
that change only the training then cost no pretraining).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from ssl_core.config import DEFAULT_CONFIG, parse_json_override, resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.training import resolve_compute

from domains.audio.semisup.models import METHODS, SemisupData, needs_trunk, pool_frames
from domains.audio.semisup.evaluate import paired_differences as evaluate_paired_differences
from domains.audio.semisup.pretrain import load_trunk, pretrain_run, trunk_settings
from domains.audio.semisup.train import train_run

__all__ = ["heldout_class_groups", "paired_differences"]


def heldout_class_groups(features: Path, time_pool: int, n_groups: int = 4, seed: int = 123) -> list[SemisupData]:
    """The ESC-50 classes outside ESC-10 in ``n_groups`` groups of equal size (seeded draw), as ESC-10-like data
    sets: targets renumbered 0..9 within a group, ``group`` = ESC-50 fold, frames average-pooled by ``time_pool``."""
    try:
        d = np.load(features)
        labels, esc10, fold, mels = d["labels"], d["esc10"].astype(bool), d["fold"], d["mels"]
        classes, filenames = d["classes"], d["filenames"]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{features}: not an ESC-50 features file written by domains.audio.data.prepare ({exc})") from None
    others = np.array(sorted(set(labels[~esc10].tolist()) - set(labels[esc10].tolist())))
    if len(others) < n_groups:
        raise InputError(f"{features}: {len(others)} classes outside ESC-10, fewer than {n_groups} groups")
    drawn = np.random.default_rng(seed).permutation(others)
    size = len(others) // n_groups
    groups = []
    for g in range(n_groups):
        members = np.sort(drawn[g * size:(g + 1) * size])
        keep = np.isin(labels, members)
        groups.append(SemisupData(x=pool_frames(mels[keep].astype(np.float32), time_pool), y=np.searchsorted(members, labels[keep]).astype(np.int64),
                              group=fold[keep].astype(np.int64), classes=[str(classes[c]) for c in members],
                              filenames=filenames[keep]))
    return groups


def paired_differences(runs: list[dict], reference: str = "supervised_10") -> dict[str, dict[str, float]]:
    """:func:`domains.audio.semisup.evaluate.paired_differences` paired on the same (group, fold, seed)."""
    return evaluate_paired_differences(runs, ("group", "fold", "seed"), reference)


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"expected comma-separated integers, got {text!r}") from None


def _reusable(trunk: Path, settings: dict) -> bool:
    """Whether ``trunk`` exists and was pretrained with ``settings``."""
    if not trunk.is_file():
        return False
    try:
        load_trunk(trunk, settings)
    except InputError:
        return False
    return True


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.semisup.dev", description=__doc__.split("\n\n")[0])
    p.add_argument("--features", required=True, type=Path, help="ESC-50 features .npz (domains.audio.data.prepare)")
    p.add_argument("--methods", default="supervised_10,fixmatch_mixup", help="comma-separated methods")
    p.add_argument("--groups", default="0,1,2,3", help="class groups (0-3)")
    p.add_argument("--folds", default="1,2,3,4,5")
    p.add_argument("--seeds", default="0")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config whose audio.semisup section is used")
    p.add_argument("--override", default="{}", help="JSON merged over the audio.semisup section as ESC-10 runs see it "
                   "(its dataset_overrides applied)")
    p.add_argument("--name", default="default", help="setting name written with every run")
    p.add_argument("--out", required=True, type=Path, help="JSON lines file the runs are appended to")
    p.add_argument("--trunks", type=Path, help="directory that keeps the pretrained trunks for reuse")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--compute", default=None,
                   help="JSON object merged over the compute section (accelerator, devices, precision)")
    args = p.parse_args(argv)
    override = parse_json_override(args.override, "--override")  # malformed JSON: named as this option
    hp = resolve_section(("audio", "semisup"), [args.config], args.override, "esc10")
    compute = resolve_compute([args.config], args.compute)
    methods = args.methods.split(",")
    if unknown := [m for m in methods if m not in METHODS]:
        raise InputError(f"--methods: unknown {', '.join(unknown)} (known: {', '.join(METHODS)})")
    groups = heldout_class_groups(args.features, hp["esc10"]["time_pool"])
    runs = []
    for g in _ints(args.groups):
        if g not in range(len(groups)):
            raise InputError(f"--groups: {g} is not a group (0-{len(groups) - 1})")
        for fold in _ints(args.folds):
            for seed in _ints(args.seeds):
                with tempfile.TemporaryDirectory() as tmp:
                    trunk = None
                    if any(needs_trunk(m, hp) for m in methods):  # one pretraining per group, fold and seed
                        where = (args.trunks or Path(tmp)) / f"group{g}_fold{fold}_seed{seed}"
                        trunk = where / "trunk.pt"
                        if not _reusable(trunk, trunk_settings(hp, "esc10", fold, seed)):
                            pretrain_run(args.features, "esc10", fold, seed, hp, where, threads=args.threads,
                                         progress=False, data=groups[g], compute=compute)
                    for method in methods:
                        r = train_run(args.features, "esc10", method, fold, seed, hp, Path(tmp) / method,
                                      threads=args.threads, progress=False, data=groups[g], trunk=trunk,
                                      compute=compute)
                        run = {"name": args.name, "method": method, "group": g, "fold": fold, "seed": seed,
                               "test_error": r["test_error"], "val_error": r["val_error"], "override": override}
                        runs.append(run)
                        with open(args.out, "a") as fh:
                            fh.write(json.dumps(run) + "\n")
                        print(f"{args.name} {method} group {g} fold {fold} seed {seed}: "
                              f"test error {r['test_error']:.4f}", flush=True)
    print("| method | runs | test error | minus supervised_10 (paired) |\n|---|---|---|---|")
    for method, s in paired_differences(runs).items():
        print(f"| {method} | {s['n']} | {s['test_error']:.4f} | {s['diff']:+.4f} +- {s['diff_se']:.4f} |")


if __name__ == "__main__":
    main()
