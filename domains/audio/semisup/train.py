"""Train one semi-supervised (or supervised reference) run on precomputed log-mels and test it.

    python -m domains.audio.semisup.train --features results/audio/features/esc50.npz --dataset esc10 \
        --method mixmatch --fold 1 --seed 0 --out results/audio/semisup/esc10/mixmatch/fold1_seed0 \
        [--hparams '<JSON over the data set's audio.semisup section>'] [--config FILE] [--compute JSON] \
        [--trunk results/audio/semisup/esc10/pretrain/fold1_seed0/trunk.pt] [--threads 1] [--no-progress]

One run = one data set, method, test fold (ESC-10: 1-5; FSDD: 0, the upstream split) and seed (label draw,
initialisation, augmentation). Splits: :func:`domains.audio.semisup.models.split_run` (test fold held out; a stratified
validation share of the training clips never trained on; 10 % of each class's remaining clips labelled). Features
are normalised per mel band with the mean and standard deviation of the training clips (labelled and unlabelled;
never validation or test). With ``pretrain.steps > 0`` the methods that use the unlabelled clips start from the
CNN trunk pretrained with i-Mix for this fold and seed (``--trunk``, written by :mod:`domains.audio.semisup.pretrain`;
refused if it was made with other settings). The reported model is the **last step** (no selection; with
``train.ema_decay > 0`` the EMA of the weights at the last step; with ``train.precise_bn`` its BN statistics recomputed on the clean
training clips); the validation error per ``eval_every`` steps is in ``history.csv``.

``selftrain_mixup`` first trains its teacher exactly as ``supervised_10`` (same seed: the same model), keeps the
teacher's most confident pseudo-labels per class (``selftrain.fraction``) and trains the student on labelled +
pseudo-labelled clips for ``selftrain.steps``; the student is the reported model.

Settings: ``audio.semisup`` of config/config.yaml (and ``--config`` files) with the data set's ``dataset_overrides``, then
``--hparams`` merged on top (:func:`ssl_core.config.resolve_section`). Training runs on the harness
(``ssl_core.training.fit``, devices from ``--compute``): ``train.steps`` are cut into epochs of ``eval_every`` steps,
each followed by validation and a checkpoint; a rerun resumes an interrupted run with the same settings, seed, inputs
and compute settings, and trains a finished or differently configured one from scratch.

Outputs in ``--out``: ``result.json`` (test and validation error, split sizes, mean training step time; the
harness's device, precision and timings; ``selftrain_mixup``: also the teacher's errors and fit time, ``n_pseudo``
and ``pseudo_label_accuracy``, measured with the hidden labels), ``history.csv``, ``checkpoints/last.ckpt``
(``selftrain_mixup``: also the teacher's ``teacher/checkpoints/last.ckpt``, fingerprinted apart; a rerun after the
teacher finished trains it again, deterministically, before resuming the student).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

from ssl_core.atomic import atomic_path, write_json
from ssl_core.config import deep_merge, resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.losses import balanced_pseudo_labels
from ssl_core.training import Compute, FitResult, add_training_arguments, fingerprint, fit, resolve_compute, start_run

from domains.audio.settings import runs_key, semisup_parts
from domains.audio.semisup.models import (METHODS, SELF_TRAINING_METHODS, SemiSupervised, SemisupData, StepLoader,
                                   load_semisup_data, needs_trunk, normalise_bands, split_run)
from domains.audio.semisup.pretrain import load_trunk, trunk_settings

__all__ = ["train_run"]



def train_run(features: Path, dataset: str, method: str, fold: int, seed: int, hp: dict, out: Path, *,
              threads: int | None = None, progress: bool = True, data: SemisupData | None = None,
              trunk: Path | None = None, compute: Compute | None = None) -> dict:
    """Train and test one run; write the outputs in the module docstring; return ``result.json``'s content.

    ``hp``: the data set's ``audio.semisup`` section (``resolve_section(("audio", "semisup"), ..., dataset)``). ``data``:
    clips to use instead of ``dataset``'s clips in ``features`` (split by ``dataset``'s protocol), e.g. the
    held-out ESC-50 class groups of :mod:`domains.audio.semisup.dev`. ``trunk``: the ``trunk.pt`` written by
    :func:`domains.audio.semisup.pretrain.pretrain_run` for this fold and seed; required when :func:`needs_trunk`.
    ``compute``: where training runs (``ssl_core.training.Compute``; default: the config default)."""
    if method == "imix_finetune" and hp["pretrain"]["steps"] <= 0:
        raise InputError(f"method imix_finetune needs audio.semisup.pretrain.steps > 0 for {dataset} (it is supervised_10 "
                         "after i-Mix pretraining)")
    if needs_trunk(method, hp) and trunk is None:
        raise InputError(f"method {method} starts from the i-Mix pretrained trunk: pass --trunk (the trunk.pt written "
                         f"by python -m domains.audio.semisup.pretrain for {dataset} fold {fold} seed {seed})")
    inputs = {"features": features, "trunk": trunk if needs_trunk(method, hp) else None}
    run = {"dataset": dataset, "method": method, "fold": fold}

    def fp(role: str) -> dict:  # what a checkpoint must match: the settings, this run and role, seed, inputs, compute
        return fingerprint({**hp, "run": {**run, "role": role}}, seed, inputs, compute)

    student_fp = fp("student" if method in SELF_TRAINING_METHODS else "model")
    teacher_fp = fp("teacher") if method in SELF_TRAINING_METHODS else None
    start_run(seed, threads)
    if data is None:
        data = load_semisup_data(features, dataset, hp[runs_key(dataset)]["time_pool"])
    parts = split_run(data, dataset, fold, seed, hp["label_fraction"], hp["val_fraction"])
    if method == "supervised_100":
        parts["labelled"] = np.sort(np.concatenate([parts["labelled"], parts["unlabelled"]]))
        parts["unlabelled"] = parts["unlabelled"][:0]
    mean, std = normalise_bands(data.x, np.concatenate([parts["labelled"], parts["unlabelled"]]))
    x = (torch.from_numpy(data.x) - mean) / std
    y = torch.from_numpy(data.y)
    val_loader = None
    if len(parts["val"]):
        val_loader = DataLoader(TensorDataset(x[parts["val"]], y[parts["val"]]), batch_size=256)
    lab, unl = parts["labelled"], parts["unlabelled"] if len(parts["unlabelled"]) else parts["labelled"]
    extra: dict = {}
    if method in SELF_TRAINING_METHODS:  # the teacher: supervised_10 itself (same seed, same model), then its labels
        teacher = SemiSupervised("supervised_10", hp, len(data.classes), x.shape[1])
        teacher.set_data(x[lab], y[lab], x[unl], 1.0 / std.flatten())
        fitted = _fit(teacher, hp, val_loader, out / "teacher" / "checkpoints", teacher_fp, compute, progress)
        rows, labels = balanced_pseudo_labels(teacher.predict_probs(x[unl]), hp["selftrain"]["fraction"])
        chosen = torch.from_numpy(unl)[rows]
        extra = {"teacher_test_error": float((teacher.predict_labels(x[parts["test"]]) != y[parts["test"]]).float().mean()),
                 "teacher_val_error": _last_val_error(fitted.history), "teacher_wall_s": fitted.fit_seconds,
                 "n_pseudo": int(len(rows)),
                 "pseudo_label_accuracy": float((labels == y[chosen]).float().mean()) if len(rows) else None}
        keep = np.ones(len(unl), dtype=bool)
        keep[rows.numpy()] = False
        x_lab, y_lab, x_unl = torch.cat([x[lab], x[chosen]]), torch.cat([y[lab], labels]), x[unl[keep]]
        hp = deep_merge(hp, {"train": {"steps": hp["selftrain"]["steps"]}})  # the student's own training length
    else:
        x_lab, y_lab, x_unl = x[lab], y[lab], x[unl]
    module = SemiSupervised(method, hp, len(data.classes), x.shape[1])
    module.set_data(x_lab, y_lab, x_unl, 1.0 / std.flatten())
    pretrained = None
    if needs_trunk(method, hp):  # before resuming: a resumed run's checkpoint then replaces these weights
        state, pretrained = load_trunk(Path(trunk), trunk_settings(hp, dataset, fold, seed))
        module.model.features.load_state_dict(state)
    fitted = _fit(module, hp, val_loader, out / "checkpoints", student_fp, compute, progress)
    pred = module.predict_labels(x[parts["test"]])
    test_error = float((pred != y[parts["test"]]).float().mean())
    with atomic_path(out / "history.csv") as tmp:
        fitted.history.to_csv(tmp)
    val_error = _last_val_error(fitted.history)
    result = {
        "dataset": dataset, "method": method, "fold": fold, "seed": seed,
        "test_error": test_error, "val_error": val_error,
        "n_labelled": int(len(parts["labelled"])), "n_unlabelled": int(len(parts["unlabelled"])),
        "n_val": int(len(parts["val"])), "n_test": int(len(parts["test"])), "n_classes": len(data.classes),
        # None when this process trained no step (a rerun after SIGTERM in the last epoch only completes the run)
        "steps": _steps(hp), "step_time_s": fitted.mean_step_seconds(skip=5),
        "train_wall_s": fitted.fit_seconds, "input_shape": list(x.shape[1:]),
        "pretrain_steps": pretrained["steps"] if pretrained else 0,
        "pretrain_clips": pretrained["n_clips"] if pretrained else 0,
        "pretrain_wall_s": pretrained["wall_s"] if pretrained else 0.0,
        "pretrain_loss_first_last": pretrained["loss_first_last"] if pretrained else None,
        "n_parameters": int(sum(p.numel() for p in module.model.parameters())),
        **extra, **fitted.as_json(),
    }
    write_json(out / "result.json", result)
    return result


def _steps(hp: dict) -> int:
    """Training steps actually run: whole multiples of ``eval_every`` (at least one)."""
    every = min(hp["train"]["eval_every"], hp["train"]["steps"])
    return max(1, hp["train"]["steps"] // every) * every


def _fit(module: SemiSupervised, hp: dict, val_loader: DataLoader | None, ckpt_dir: Path, fp: dict,
         compute: Compute | None, progress: bool) -> FitResult:
    """Fit ``module`` for ``train.steps`` steps on the harness: epochs of ``eval_every`` steps, each validated and
    checkpointed in ``ckpt_dir`` (resumed when ``fp`` matches an unfinished run)."""
    every = min(hp["train"]["eval_every"], hp["train"]["steps"])
    # No generator on the loaders: creating each epoch's iterators draws from the global generator, as it always has
    # (the numbers of earlier versions); the draws are part of the RNG state the checkpoints keep.
    return fit(module, DataLoader(StepLoader(every), batch_size=None), val_loader, ckpt_dir=ckpt_dir, fp=fp,
               max_epochs=_steps(hp) // every, compute=compute, progress=progress, refresh_rate=max(1, every // 4))


def _last_val_error(frame: pd.DataFrame) -> float | None:
    if "val_error" not in frame or not frame["val_error"].notna().any():
        return None
    return float(frame["val_error"].dropna().iloc[-1])


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.semisup.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--features", required=True, type=Path, help="features .npz written by domains.audio.data.prepare")
    p.add_argument("--dataset", required=True, help="esc10, fsdd or a user data set (audio.user_datasets)")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--fold", required=True, type=int, help="ESC-10 test fold 1-5; FSDD: 0; a user data set: its fold")
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--trunk", type=Path, help="trunk.pt from domains.audio.semisup.pretrain (methods that use unlabelled "
                   "clips, when pretrain.steps > 0)")
    add_training_arguments(p)  # --hparams: JSON merged over the data set's audio.semisup section
    args = p.parse_args(argv)
    hp = resolve_section(("audio", "semisup"), args.config, args.hparams, args.dataset,
                         parts=semisup_parts("train", args.dataset))
    r = train_run(args.features, args.dataset, args.method, args.fold, args.seed, hp, args.out,
                  threads=args.threads, progress=not args.no_progress, trunk=args.trunk,
                  compute=resolve_compute(args.config, args.compute))
    print(f"{args.dataset} {args.method} fold {args.fold} seed {args.seed}: test error {r['test_error']:.4f} "
          f"(val {r['val_error'] if r['val_error'] is None else round(r['val_error'], 4)}), "
          f"{r['n_labelled']} labelled / {r['n_unlabelled']} unlabelled, "
          f"{'-' if r['step_time_s'] is None else round(r['step_time_s'] * 1000)} ms/step on {r['device']}")


if __name__ == "__main__":
    main()
