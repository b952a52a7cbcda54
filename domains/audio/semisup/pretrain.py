"""i-Mix pretraining of the semi-supervised CNN trunk for one test fold and seed, shared by every method that uses it.

    python -m domains.audio.semisup.pretrain --features results/audio/features/esc50.npz --dataset esc10 \
        --fold 1 --seed 0 --out results/audio/semisup/esc10/pretrain/fold1_seed0 \
        [--hparams '<JSON over the data set's audio.semisup section>'] [--config FILE] [--compute JSON] [--threads 1] \
        [--no-progress]

The trunk depends only on the data set, test fold, seed and the ``pretrain`` / ``model`` / ``augment`` settings,
not on the method, so one job pretrains it and ``imix_finetune``, ``mixmatch``, ``fixmatch`` and
``fixmatch_mixup`` (``PRETRAINED_METHODS``) all start from it (``domains.audio.semisup.train --trunk``).

Pretraining clips (``pretrain.pool``), labels never used:

- ``run``: the run's training clips (its labelled and unlabelled clips), as the semi-supervised methods see them.
- ``source``: every clip of the features file the data set is cut from (for ESC-10 all of ESC-50: 1,570 clips
  instead of 290) except the run's test split (for ESC-10 the whole ESC-50 test fold, all 50 classes) and the run's
  validation clips. Why: contrastive pretraining gains from more unlabelled audio, and unlabelled clips of other
  classes are what a user has in practice. The labelled 10 % and the test clips are the same as with ``run``.

Clips are normalised with the run's statistics (:func:`domains.audio.semisup.models.normalise_bands`), so the trunk sees
the inputs the training will give it. Training (:class:`domains.audio.semisup.models.IMixPretraining`) runs on the harness
(``ssl_core.training.fit``): its ``pretrain.steps`` are cut into epochs of at most 100 steps (the largest divisor of
``steps`` up to 100, so the epochs add up to exactly ``steps``), with ``checkpoints/last.ckpt`` at the epoch
boundaries; a rerun resumes an interrupted run made with the same settings and inputs and gives the trunk of an
uninterrupted one. Outputs in ``--out``: ``trunk.pt`` (the trunk's state dict) and ``pretrain.json`` (the settings
it was made with, checked by ``semisup.train``; clip count, loss at the first and last step, wall time ``wall_s``, and
the harness's device, precision and timings).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ssl_core.atomic import atomic_path, write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.training import Compute, add_training_arguments, fingerprint, fit, resolve_compute, start_run

from domains.audio.settings import runs_key, semisup_parts
from domains.audio.semisup.models import (Augment, IMixPretraining, SmallCNN, SemisupData, StepLoader,
                                   load_semisup_data, normalise_bands, pool_frames, split_run)

__all__ = ["trunk_settings", "pretrain_clips", "pretrain_run", "load_trunk", "epoch_steps"]

POOLS = ("run", "source")
EPOCH_STEPS = 100  # pretraining steps per epoch (checkpoint) at the most


def epoch_steps(steps: int, most: int = EPOCH_STEPS) -> int:
    """Steps per pretraining epoch: the largest divisor of ``steps`` up to ``most``, so that whole epochs make
    exactly ``steps`` steps."""
    return max(d for d in range(1, min(steps, most) + 1) if steps % d == 0)


def trunk_settings(hp: dict, dataset: str, fold: int, seed: int) -> dict:
    """Everything a pretrained trunk depends on; ``semisup.train`` refuses a trunk whose settings differ from its own."""
    return {"dataset": dataset, "fold": fold, "seed": seed, "pretrain": hp["pretrain"],
            "channels": hp["model"]["channels"], "augment": hp["augment"], "time_pool": hp[runs_key(dataset)]["time_pool"],
            "label_fraction": hp["label_fraction"], "val_fraction": hp["val_fraction"]}


def pretrain_clips(features: Path, dataset: str, fold: int, data: SemisupData, parts: dict[str, np.ndarray], pool: str,
                   time_pool: int) -> np.ndarray:
    """Raw log-mels ``[N, mels, frames]`` to pretrain on (module docstring: ``run`` or ``source``).

    ``source`` reads every clip of ``features`` and drops the test split and the run's validation clips (matched by
    file name); ``data`` must then be cut from ``features`` (``semisup.dev``'s class groups are)."""
    if pool == "run":
        return data.x[np.concatenate([parts["labelled"], parts["unlabelled"]])]
    if pool != "source":
        raise InputError(f"audio.semisup.pretrain.pool must be one of {', '.join(POOLS)}, got {pool!r}")
    try:
        d = np.load(features)
        filenames = d["filenames"]
        # a user data set's features hold only its clips: the run's test and validation clips are all of held_out
        in_test_split = (d["fold"] == fold if dataset == "esc10" else d["split"] == "test" if dataset == "fsdd"
                         else np.zeros(len(filenames), dtype=bool))
        mels = d["mels"]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{features}: not a features file written by domains.audio.data.prepare ({exc})") from None
    held_out = set(data.filenames[np.concatenate([parts["val"], parts["test"]])].tolist())
    if not held_out <= set(filenames.tolist()):
        raise InputError(f"{features}: does not hold the run's clips (pretrain.pool 'source' needs the features "
                         f"file the {dataset} clips are cut from)")
    keep = ~in_test_split & ~np.isin(filenames, list(held_out))
    return pool_frames(mels[keep].astype(np.float32), time_pool)


def pretrain_run(features: Path, dataset: str, fold: int, seed: int, hp: dict, out: Path, *,
                 threads: int | None = None, progress: bool = True, data: SemisupData | None = None,
                 compute: Compute | None = None) -> dict:
    """Pretrain the trunk for one test fold and seed; write ``trunk.pt`` and ``pretrain.json`` in ``out``; return
    ``pretrain.json``'s content. ``hp``: the data set's ``audio.semisup`` section; ``data``: as in
    :func:`domains.audio.semisup.train.train_run`. Checkpoints in ``out/checkpoints``; the fingerprint is the trunk's
    settings (:func:`trunk_settings`), the seed, the features file and ``compute``."""
    cfg = hp["pretrain"]
    if cfg["steps"] <= 0:
        raise InputError(f"audio.semisup.pretrain.steps is {cfg['steps']} for {dataset}: nothing to pretrain")
    settings = trunk_settings(hp, dataset, fold, seed)
    fp = fingerprint(settings, seed, {"features": features}, compute)
    start_run(seed, threads)
    time_pool = hp[runs_key(dataset)]["time_pool"]
    if data is None:
        data = load_semisup_data(features, dataset, time_pool)
    parts = split_run(data, dataset, fold, seed, hp["label_fraction"], hp["val_fraction"])
    mean, std = normalise_bands(data.x, np.concatenate([parts["labelled"], parts["unlabelled"]]))
    raw = pretrain_clips(features, dataset, fold, data, parts, cfg["pool"], time_pool)
    clips = (torch.from_numpy(raw) - mean) / std
    model = SmallCNN(len(data.classes), hp["model"]["channels"], hp["model"]["dropout"])
    # the projection head is built after the model (the order of the random initialisations)
    module = IMixPretraining(model, clips, Augment(hp["augment"], 1.0 / std.flatten()), cfg)
    per_epoch = epoch_steps(cfg["steps"])
    loader_rng = torch.Generator()  # creating the loader's iterator draws from this, not from the global generator
    loader = DataLoader(StepLoader(per_epoch), batch_size=None, generator=loader_rng)
    result = fit(module, loader, ckpt_dir=out / "checkpoints", fp=fp, max_epochs=cfg["steps"] // per_epoch,
                 compute=compute, progress=progress, checkpoint_every=max(1, EPOCH_STEPS // per_epoch),
                 stateful={"loader": loader_rng})
    losses = module.losses
    info = {"settings": settings, "n_clips": int(len(clips)), "steps": len(losses),
            "loss_first_last": [losses[0], losses[-1]], "wall_s": result.fit_seconds, **result.as_json()}
    with atomic_path(out / "trunk.pt") as tmp:
        torch.save(model.features.cpu().state_dict(), tmp)
    write_json(out / "pretrain.json", info)
    return info


def load_trunk(trunk: Path, settings: dict) -> tuple[dict, dict]:
    """The state dict in ``trunk`` (a ``trunk.pt``) and its ``pretrain.json``, after checking that it was pretrained
    with ``settings`` (:func:`trunk_settings`); a clear error naming the file otherwise."""
    meta_path = trunk.parent / "pretrain.json"
    try:
        info = json.loads(meta_path.read_text())
        state = torch.load(trunk, map_location="cpu", weights_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"{trunk}: cannot read the pretrained trunk or its pretrain.json ({exc})") from None
    differ = sorted(k for k in settings if info.get("settings", {}).get(k) != settings[k])
    if differ:
        raise InputError(f"{trunk}: pretrained with other settings than this run ({', '.join(differ)}); "
                         "rerun domains.audio.semisup.pretrain")
    return state, info


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.semisup.pretrain", description=__doc__.split("\n\n")[0])
    p.add_argument("--features", required=True, type=Path, help="features .npz written by domains.audio.data.prepare")
    p.add_argument("--dataset", required=True, help="esc10, fsdd or a user data set (audio.user_datasets)")
    p.add_argument("--fold", required=True, type=int, help="ESC-10 test fold 1-5; FSDD: 0; a user data set: its fold")
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path)
    add_training_arguments(p)  # --hparams: JSON merged over the data set's audio.semisup section
    args = p.parse_args(argv)
    hp = resolve_section(("audio", "semisup"), args.config, args.hparams, args.dataset,
                         parts=semisup_parts("pretrain", args.dataset))
    info = pretrain_run(args.features, args.dataset, args.fold, args.seed, hp, args.out, threads=args.threads,
                        progress=not args.no_progress, compute=resolve_compute(args.config, args.compute))
    print(f"{args.dataset} fold {args.fold} seed {args.seed}: i-Mix pretraining on {info['n_clips']} clips, "
          f"{info['steps']} steps, loss {info['loss_first_last'][0]:.3f} -> {info['loss_first_last'][1]:.3f}, "
          f"{info['wall_s']:.0f} s on {info['device']}")


if __name__ == "__main__":
    main()
