"""Training step time of every semi-supervised method on the default config's input shapes (ESC-10: 64 mels x 62
pooled frames; FSDD: 32 mels x 63 frames), one torch thread, CPU.

    python benchmarks/audio_semisup_step.py [--steps 20] [--warmup 3]

A step = one labelled batch (``audio.semisup.train.batch_size``) and, for the semi-supervised methods, one unlabelled batch
(``unlabeled_batch``): MixMatch runs K label-guess forwards plus one forward/backward of the mixed batch; FixMatch
one forward/backward of labelled + weak + strong views (with ``train.ema_teacher``: labelled + strong, and a
no-gradient forward of the weak views through the EMA model, with ``train.bn_batches: separate`` three forward
passes); every step ends with the EMA update. The ``i-Mix pretrain`` row times one step of
:class:`domains.audio.semisup.models.IMixPretraining` (``audio.semisup.pretrain.batch_size`` clips, two strong views), run
``pretrain.steps`` times once per test fold and seed (``domains.audio.semisup.pretrain``; the methods that use unlabelled
clips share the trunk). ``selftrain_mixup``'s step is its student's (mixup on labelled + pseudo-labelled clips); its
estimate adds the teacher's ``train.steps`` at the supervised step time. Wall and CPU (process) time per step are reported; the
machine is shared, so CPU time is the fair comparison. Also printed: the estimated wall time of the default
configuration's semi-supervised part (steps x step time x runs), single job.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from domains.audio.semisup.models import (METHODS, PRETRAINED_METHODS, SELF_TRAINING_METHODS, Augment,  # noqa: E402
                                   IMixPretraining, SmallCNN, SemiSupervised)
from ssl_core.config import resolve_section  # noqa: E402
from ssl_core.runtime import set_threads  # noqa: E402

SHAPES = {"esc10": (64, 62, 10, 30, 260), "fsdd": (32, 63, 10, 243, 2187)}  # mels, frames, classes, labelled, unlabelled


def _optimizer(module) -> torch.optim.Optimizer:
    opt = module.configure_optimizers()
    return opt["optimizer"] if isinstance(opt, dict) else opt  # with train.lr_schedule: cosine


def _steps(module, opt: torch.optim.Optimizer, first: int, n: int) -> None:
    """``n`` optimiser steps of ``module`` outside a Trainer (numbered from ``first``), each ending with the
    module's ``on_train_batch_end`` (the EMA update)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log without a trainer
        for i in range(first, first + n):
            loss = module.training_step(i, i)
            opt.zero_grad()
            loss.backward()
            opt.step()
            module.on_train_batch_end(None, None, i)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    set_threads(1)
    section = resolve_section(("audio", "semisup"), None, None)
    print(f"{'data set':8} {'method':15} {'ms/step wall':>12} {'ms/step cpu':>11} {'runs':>5} {'est. min':>8}")
    total = 0.0
    for ds, (mels, frames, n_classes, n_lab, n_unl) in SHAPES.items():
        hp = resolve_section(("audio", "semisup"), None, None, ds)
        runs = len(hp[ds]["folds"]) * len(hp[ds]["seeds"])
        sup_wall = 0.0
        for method in METHODS:
            torch.manual_seed(0)
            module = SemiSupervised(method, hp, n_classes, mels)
            module.set_data(torch.randn(n_lab, mels, frames), torch.randint(n_classes, (n_lab,)),
                            torch.randn(n_unl, mels, frames), torch.ones(mels))
            opt = _optimizer(module)
            _steps(module, opt, 0, args.warmup)
            w, c = time.perf_counter(), time.process_time()
            _steps(module, opt, args.warmup, args.steps)
            wall = (time.perf_counter() - w) / args.steps
            cpu = (time.process_time() - c) / args.steps
            est = wall * hp["train"]["steps"] * runs / 60
            if method in SELF_TRAINING_METHODS:  # the student's steps, plus its teacher (a supervised_10 run)
                est = (wall * hp["selftrain"]["steps"] + sup_wall * hp["train"]["steps"]) * runs / 60
            if method == "supervised_10":
                sup_wall = wall
            total += est
            print(f"{ds:8} {method:15} {1000 * wall:12.1f} {1000 * cpu:11.1f} {runs:5d} {est:8.1f}")
        pt = hp["pretrain"]
        if pt["steps"] > 0:
            torch.manual_seed(0)
            model = SmallCNN(n_classes, hp["model"]["channels"], hp["model"]["dropout"])
            clips, aug = torch.randn(n_lab + n_unl, mels, frames), Augment(hp["augment"], torch.ones(mels))
            module = IMixPretraining(model, clips, aug, pt)
            opt = _optimizer(module)
            _steps(module, opt, 0, args.warmup)
            w, c = time.perf_counter(), time.process_time()
            _steps(module, opt, args.warmup, args.steps)
            wall = (time.perf_counter() - w) / args.steps
            cpu = (time.process_time() - c) / args.steps
            n_pre = runs if any(m in PRETRAINED_METHODS for m in section["methods"]) else 0  # one per fold and seed
            est = wall * pt["steps"] * n_pre / 60
            total += est
            print(f"{ds:8} {'i-Mix pretrain':15} {1000 * wall:12.1f} {1000 * cpu:11.1f} {n_pre:5d} {est:8.1f}")
    print(f"estimated semi-supervised training, one job at a time: {total:.1f} min (plus ~5 s start-up per run)")


if __name__ == "__main__":
    main()
