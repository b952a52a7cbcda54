"""Train one CLAP stage: plain contrastive, TeminAL stage A (multi-sound), or TeminAL stage B (ordered pairs).

    python -m domains.audio.clap.train --stage plain --meta resources/audio/esc50/meta.csv \
        --captions results/audio/clap/captions.pt --out results/audio/clap/plain [--init <previous model.pt>] \
        [--config ...] [--hparams JSON] [--compute JSON] [--threads 1] [--no-progress]

Each step draws one batch of items from the seen classes' training folds (``domains.audio.clap.temporal.Composer``:
single clips, two-sound sets, ordered pairs, in the stage's proportions), computes log-mels of the composed
waveforms with torchaudio (``domains.audio.data.features.log_mel``) and takes a step of the symmetric CLIP loss with
learnable temperature; stage B adds every ordered pair's reversed caption as a hard negative. Stages A and B start
from the previous stage's ``model.pt`` (``--init``); the curriculum is plain -> A -> B.

Training runs on :func:`ssl_core.training.fit`: a stage's ``steps`` are cut into at most :data:`EPOCHS` epochs of
equal length (the last one may be shorter), so checkpoints fall on epoch boundaries; the stream's and the
composer's random generators are saved in them, so an interrupted run resumes exactly. The device and precision
come from the ``compute`` section (``--compute``).

Outputs in ``--out``: ``model.pt`` (state dict + config + stage), ``history.csv`` (per epoch: the step reached,
the loss and temperature of its last step), ``run.json`` (steps, epochs, timings, device, clips/s of composition +
log-mel), ``checkpoints/last.ckpt`` (an unfinished run with the same config and inputs resumes from it).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, IterableDataset

from domains.audio.clap.clips import class_split, load_clips
from domains.audio.clap.model import (ClapModel, clap_loss, load_audio_checkpoint, load_model, mel_config,
                                      mixup_clap_loss)
from domains.audio.data.features import LogMelConfig, log_mel
from domains.audio.settings import CLAP_PARTS
from domains.audio.clap.temporal import Composer, kinds_for_batch
from domains.audio.clap.text import CaptionTable
from ssl_core.atomic import atomic_path, remove_on_failure, write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.mixup import mix, sample_lambda, sample_permutation
from ssl_core.training import (Compute, add_training_arguments, fingerprint, fit, resolve_compute, start_run,
                               warmup_cosine)

__all__ = ["STAGES", "EPOCHS", "epoch_steps", "ItemStream", "ClapModule", "save_model",
           "train", "main"]

# Training stages in curriculum order: each starts from the previous one's model.
STAGES = ("plain", "stageA", "stageB")
# A stage's steps are cut into at most this many epochs; a checkpoint is written at the end of each.
EPOCHS = 10


def epoch_steps(steps: int, epochs: int = EPOCHS) -> tuple[int, int]:
    """(steps per epoch, number of epochs) of a stage of ``steps`` steps: ``ceil(steps / epochs)`` steps per
    epoch, the last epoch takes what is left."""
    per_epoch = max(1, math.ceil(steps / epochs))
    return per_epoch, max(1, math.ceil(steps / per_epoch))


class ItemStream(IterableDataset):
    """Batches of composed items as tensors (log-mel, caption rows, labels, hard negatives): ``steps`` batches in
    all, at most ``per_epoch`` of them per pass (one pass = one training epoch). Its random generators are the
    composer's and its own ``rng``; :meth:`state_dict` holds how many batches it has yielded."""

    def __init__(self, composer: Composer, batch_size: int, fractions: dict[str, float], mel: LogMelConfig,
                 seed: int, steps: int, per_epoch: int, mixup_alpha: float = 0.0) -> None:
        self.composer = composer
        self.batch_size = batch_size
        self.fractions = fractions
        self.mel = mel
        self.rng = np.random.default_rng(seed + 7)
        self.steps = steps
        self.per_epoch = per_epoch
        self.mixup_alpha = mixup_alpha
        self.yielded = 0
        self.seconds = 0.0
        self.items = 0

    def __len__(self) -> int:
        return self.per_epoch

    def state_dict(self) -> dict[str, int]:
        return {"yielded": self.yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.yielded = int(state["yielded"])

    def __iter__(self):
        for _ in range(min(self.per_epoch, self.steps - self.yielded)):
            t0 = time.perf_counter()
            kinds = kinds_for_batch(self.batch_size, self.fractions, self.rng)
            b = self.composer.batch(kinds)
            waves = torch.from_numpy(b.waves)
            out: dict[str, torch.Tensor] = {}
            if self.mixup_alpha > 0:
                lam = sample_lambda(len(kinds), self.mixup_alpha)
                perm = sample_permutation(len(kinds))
                waves = mix(waves, lam, perm)
                out.update(lam=lam, perm=perm)
            out.update(mel=log_mel(waves, self.mel), captions=torch.from_numpy(b.captions),
                       labels=torch.from_numpy(b.labels), neg_captions=torch.from_numpy(b.neg_captions),
                       neg_labels=torch.from_numpy(b.neg_labels))
            self.seconds += time.perf_counter() - t0
            self.items += len(kinds)
            self.yielded += 1
            yield out


class ClapModule(pl.LightningModule):
    def __init__(self, hp: dict[str, Any], table: CaptionTable, total_steps: int, order_lr_scale: float = 1.0) -> None:
        super().__init__()
        self.hp = hp
        self.order_lr_scale = order_lr_scale
        self.table = table
        self.total_steps = total_steps
        self.model = ClapModel(hp["features"]["n_mels"], hp["model"], hp["text"], int(table.blob["hidden"]),
                               int(table.blob["vocab_size"]))

    def embed_text(self, rows: torch.Tensor) -> torch.Tensor:
        batch = {k: v.to(self.device) for k, v in self.table.rows(rows.cpu()).items()}
        return self.model.text(batch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        za = self.model.audio(batch["mel"])
        zt = self.embed_text(batch["captions"])
        temp = self.model.temperature()
        if "lam" in batch:
            loss = mixup_clap_loss(za, zt, batch["labels"], batch["lam"], batch["perm"], temp)
        else:
            has_neg = batch["neg_captions"] >= 0
            zt_neg = self.embed_text(batch["neg_captions"][has_neg]) if bool(has_neg.any()) else None
            loss = clap_loss(za, zt, batch["labels"], temp, zt_neg, batch["neg_labels"][has_neg])
        b = batch["mel"].shape[0]
        self.log("loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=b)
        self.log("temperature", temp.detach(), on_step=True, on_epoch=False, batch_size=b)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        tr = self.hp["train"]
        # the order-aware parts (text BiGRU branch, audio BiGRU) may learn faster: the text order branch starts
        # at zero and must grow against a frozen sentence vector that hardly changes with word order
        order_names = ("text.token_in.", "text.gru.", "text.order.", "audio.gru.")
        order = [p for n, p in self.model.named_parameters() if n.startswith(order_names)]
        rest = [p for n, p in self.model.named_parameters() if not n.startswith(order_names)]
        scale = self.order_lr_scale
        opt = torch.optim.AdamW([{"params": rest, "lr": tr["lr"]}, {"params": order, "lr": tr["lr"] * scale}],
                                lr=tr["lr"], weight_decay=tr["weight_decay"])
        # linear warm-up over 10% of the steps, then cosine decay to 5%
        total = max(1, self.total_steps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(max(1, total // 10), total, 0.05))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def save_model(model: ClapModel, hp: dict[str, Any], stage: str, table: CaptionTable, dest: Path) -> None:
    blob = {"state_dict": model.state_dict(), "hparams": hp, "stage": stage,
            "in_dim": int(table.blob["hidden"]), "vocab_size": int(table.blob["vocab_size"])}
    with atomic_path(dest) as tmp:
        torch.save(blob, tmp)


def train(stage: str, meta: Path, captions: Path, out: Path, hp: dict[str, Any], init: Path | None = None,
          threads: int | None = None, progress: bool = True, compute: Compute | None = None) -> dict[str, Any]:
    if stage not in STAGES:
        raise InputError(f"--stage: unknown stage {stage!r} (one of {', '.join(STAGES)})")
    if stage != "plain" and init is None:
        raise InputError(f"--init: stage {stage} starts from the previous stage's model.pt")
    tr, st = hp["train"], hp["train"]["stages"][stage]
    seed = tr["seed"] + STAGES.index(stage)
    start_run(seed, threads)
    table = CaptionTable.load(captions)
    sp = hp["split"]
    names_targets = [int(t) for t in table.blob["names"]]
    split = class_split(names_targets, sp["unseen_classes"], sp["seed"], sp["val_fold"], sp["max_classes"])
    if split.to_json() != table.blob["split"]:
        raise InputError(f"{captions}: built for another class split (rebuild the caption table)")
    t0 = time.perf_counter()
    clips, _ = load_clips(meta, hp["features"]["sample_rate"], hp["features"]["clip_seconds"], split.seen, None,
                          tr["limit_per_class"], min_samples=hp["features"]["n_fft"], exclude_folds=(split.val_fold,))
    load_seconds = time.perf_counter() - t0
    composer = Composer(clips.waves, clips.targets, table.index, seed, tr["overlay_fraction"])
    fractions = {k: float(st[k]) for k in ("single", "set", "seq")}
    if sum(fractions.values()) <= 0:
        raise InputError(f"config: audio.clap.train.stages.{stage}: single + set + seq must be > 0")
    mixup_alpha = tr["mixup_alpha"] if stage == "plain" else 0.0
    per_epoch, epochs = epoch_steps(st["steps"])
    stream = ItemStream(composer, tr["batch_size"], fractions, mel_config(hp["features"]), seed, st["steps"],
                        per_epoch, mixup_alpha)
    module = ClapModule(hp, table, st["steps"], st["order_lr_scale"])
    audio_checkpoint = None
    if init is not None:
        previous, _, _ = load_model(init)
        module.model.load_state_dict(previous.state_dict())
    elif hp["model"]["audio_checkpoint"]:
        audio_checkpoint = hp["model"]["audio_checkpoint"]
        load_audio_checkpoint(module.model, audio_checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    fp = fingerprint({**hp, "stage": stage}, seed, compute=compute,
                     inputs={"meta": meta, "captions": captions, "init": init, "audio_checkpoint": audio_checkpoint})
    # Each epoch creates a DataLoader iterator; its own generator keeps those draws off torch's global RNG (which
    # the mixup draws use). One global draw stands for the one iterator of the former endless stream, so a seed
    # gives the same numbers as before.
    loader = DataLoader(stream, batch_size=None, num_workers=0, generator=torch.Generator().manual_seed(seed))
    torch.empty((), dtype=torch.int64).random_()
    result = fit(module, loader, ckpt_dir=out / "checkpoints", fp=fp, max_epochs=epochs, compute=compute,
                 progress=progress, stateful={"stream": stream, "stream_rng": stream.rng,
                                              "composer_rng": composer.rng})
    module.model.eval()
    save_model(module.model, hp, stage, table, out / "model.pt")
    history = result.history.reset_index()
    history.insert(1, "step", [min(st["steps"], (int(e) + 1) * per_epoch) for e in history["epoch"]])
    history = history[["epoch", "step", "loss", "temperature"]]
    with atomic_path(out / "history.csv") as tmp:
        history.to_csv(tmp, index=False)
    run = {
        "stage": stage, "init": str(init) if init else None, "steps": st["steps"], "epochs": epochs,
        "steps_per_epoch": per_epoch, "batch_size": tr["batch_size"], "fractions": fractions,
        "order_lr_scale": st["order_lr_scale"], "train_clips": len(clips), "skipped_short_clips": clips.skipped,
        "train_classes": len(split.seen), "clip_load_seconds": load_seconds,
        "compose_logmel_clips_per_second": stream.items / stream.seconds if stream.seconds > 0 else None,
        "final_loss": float(history["loss"].iloc[-1]) if len(history) else None,
        "final_temperature": float(module.model.temperature().detach()),
        "parameters": {"audio": sum(p.numel() for p in module.model.audio.parameters()),
                       "text_trainable": sum(p.numel() for p in module.model.text.parameters())},
        **result.as_json(),
    }
    write_json(out / "run.json", run)
    return run


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.clap.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--stage", required=True, choices=STAGES)
    p.add_argument("--meta", required=True, type=Path, help="ESC-50 meta.csv (the fetch rule's output) or a user's clip table")
    p.add_argument("--captions", required=True, type=Path, help="caption table of python -m domains.audio.clap.text")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--init", type=Path, default=None, help="model.pt of the previous stage")
    add_training_arguments(p)
    args = p.parse_args(argv)
    hp = resolve_section(("audio", "clap"), args.config, args.hparams, parts=CLAP_PARTS["train"])
    compute = resolve_compute(args.config, args.compute)
    with remove_on_failure(args.out, ("model.pt", "run.json", "history.csv")):
        run = train(args.stage, args.meta, args.captions, args.out, hp, args.init, args.threads,
                    progress=not args.no_progress, compute=compute)
    print(json.dumps(run))


if __name__ == "__main__":
    main()
