"""Train the DNA encoder with the C^2LR curriculum of DNABERT-S: phase 1 weighted SimCLR, phase 2 MI-Mix.

    python -m domains.genomics.dnabert_s.train --tokens results/genomics/tokens --out results/genomics/train \
        [--config ...] [--hparams ...] [--compute '{"devices": 2}'] [--threads 1] [--no-progress]

Each step takes one pre-sampled batch of positive pairs (two non-overlapping fragments of one genome; the pairs of
a batch come from distinct species), streamed from the epoch's token shard. Phase 1 (``train.phase1_epochs``):
weighted SimCLR (:func:`ssl_core.losses.mimix.weighted_simclr`) over the 2B pooled embeddings with in-batch
negatives. Phase 2 (``train.phase2_epochs``): MI-Mix - the hidden states of anchor i and anchor pi(i) are mixed
at a random layer with lambda_i ~ Beta(alpha, alpha) and the mixed output must recover lambda against the
positives of both sources (:func:`ssl_core.losses.imix.i_mix_loss`), plus ``mimix_simclr_weight`` times the
phase-1 loss. AdamW, linear warm-up then cosine decay to 10 % (:func:`ssl_core.training.warmup_cosine`).

Training runs through :func:`ssl_core.training.fit`: checkpoints at epoch ends in ``--out/checkpoints`` (the
mixing generator's state included), resumed only by a rerun with the same settings, inputs and compute (else a
warning names the change and training starts over); SIGTERM stops at the end of the running epoch (exit 143).
``compute.devices > 1`` trains with DDP: Lightning's DistributedSampler (no shuffling) deals the epoch's
``steps_per_epoch`` pre-sampled batches out in turn (rank r takes batches r, r + D, r + 2D, ...; when D does not
divide them, the first ones are repeated to even out the ranks), so every optimiser step averages the gradients of
D batches and an epoch has ceil(steps_per_epoch / D) optimiser steps (the schedule's length follows).

Outputs in ``--out``: ``encoder_init.pt`` (the encoder before contrastive training, same seed: the random-init
baseline), ``encoder.pt`` (trained), ``history.csv`` (per-epoch loss and phase), ``run.json`` (timings, sequences/s
per phase over all devices, device, precision).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.data import DataLoader, Dataset
from transformers import BertConfig, BertModel

from domains.genomics.dnabert_s.model import DNAEncoder, bert_config
from domains.genomics.settings import STAGE_PARTS
from ssl_core.atomic import atomic_path, remove_on_failure, write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.losses.imix import i_mix_loss
from ssl_core.losses.mimix import weighted_simclr
from ssl_core.training import (Compute, add_training_arguments, fingerprint, fit, resolve_compute, start_run,
                               warmup_cosine)

__all__ = ["ShardDataset", "C2LRModule", "train", "main"]


class ShardDataset(Dataset):
    """The current epoch's batches, read from ``train/shard_<epoch>.npz`` (set ``epoch`` before each epoch)."""

    def __init__(self, shard_dir: Path, steps: int, window: int | None = None) -> None:
        self.shards = sorted(Path(shard_dir).glob("shard_*.npz"))
        if not self.shards:
            raise InputError(f"{shard_dir}: no token shards (run the tokenize stage first)")
        self.steps = steps
        self.window = window
        self.epoch = 0
        self._cache: tuple[int, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.steps

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        k = self.epoch % len(self.shards)  # more epochs than shards: shards are reused in turn
        if self._cache is None or self._cache[0] != k:
            with np.load(self.shards[k]) as z:
                self._cache = (k, z["ids"], z["lengths"])
        return self._cache[1], self._cache[2]

    def __getitem__(self, i: int) -> torch.Tensor:
        ids, lengths = self._load()
        t = int(lengths[i].min())  # crop the batch to its shortest sequence: no padding inside a training batch
        if self.window and t > self.window:
            t -= t % self.window  # longer than one window: whole windows (pooled together by the encoder)
        return torch.as_tensor(ids[i, :, :, :t], dtype=torch.long)


class SetEpoch(pl.Callback):
    """Point the dataset at the epoch's shard before each epoch (also after a resume)."""

    def __init__(self, ds: ShardDataset) -> None:
        self.ds = ds

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.ds.epoch = trainer.current_epoch


class C2LRModule(pl.LightningModule):
    def __init__(self, bert: dict[str, Any], train: dict[str, Any], total_steps: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.encoder = DNAEncoder(BertModel(BertConfig(**bert), add_pooling_layer=False))
        self.gen = torch.Generator().manual_seed(train["seed"] + 1)

    def phase(self) -> str:
        return "simclr" if self.current_epoch < self.hparams.train["phase1_epochs"] else "mimix"

    def simclr_step(self, batch: torch.Tensor) -> torch.Tensor:
        b, _, t = batch.shape
        z = self.encoder(batch.reshape(2 * b, t))
        z1, z2 = z.reshape(b, 2, -1).unbind(1)
        tr = self.hparams.train
        return weighted_simclr(z1, z2, tr["temperature"], tr["hard_negative_alpha"])

    def mimix_step(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tr = self.hparams.train
        b = batch.shape[0]
        layer = int(torch.randint(0, self.encoder.num_layers, (1,), generator=self.gen))
        lam = torch.distributions.Beta(tr["mimix_alpha"], tr["mimix_alpha"]).sample((b,))
        perm = torch.roll(torch.arange(b), int(torch.randint(1, b, (1,), generator=self.gen)))
        z_mix = self.encoder.forward_mixed(batch[:, 0], layer, lam, perm)
        keys = self.encoder(batch[:, 1])
        loss = i_mix_loss(z_mix, keys, lam, perm, tr["temperature"])
        if tr["mimix_simclr_weight"] > 0:
            loss = loss + tr["mimix_simclr_weight"] * self.simclr_step(batch)
        return loss, lam

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        batch = batch.squeeze(0) if batch.ndim == 4 else batch
        if self.phase() == "simclr":
            loss = self.simclr_step(batch)
        else:
            loss, _ = self.mimix_step(batch)
        # sync_dist: under DDP the epoch's loss is the mean over all ranks' batches (one device: no-op)
        self.log("loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=batch.shape[0], sync_dist=True)
        self.log("phase2", float(self.phase() == "mimix"), on_step=False, on_epoch=True, batch_size=batch.shape[0],
                 sync_dist=True)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        tr = self.hparams.train
        opt = torch.optim.AdamW(self.parameters(), lr=tr["lr"], weight_decay=tr["weight_decay"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(tr["warmup_steps"], self.hparams.total_steps, 0.1))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _save_encoder(encoder: DNAEncoder, dest: Path) -> None:
    blob = {"config": encoder.bert.config.to_dict(), "state_dict": encoder.bert.state_dict()}
    blob["config"] = json.loads(json.dumps(blob["config"], default=str))
    with atomic_path(dest) as tmp:
        torch.save(blob, tmp)


def train(tokens: Path, hp: dict[str, Any], out: Path, compute: Compute | None = None, threads: int | None = None,
          progress: bool = True) -> dict[str, Any]:
    """Train on the token shards in ``tokens`` with the resolved ``genomics`` section ``hp``; write the outputs
    to ``out`` (rank 0) and return the run record. Under DDP the other ranks exit inside :func:`fit`."""
    compute = compute or Compute()
    tr, md = hp["train"], hp["model"]
    start_run(tr["seed"], threads)
    stats = json.loads((tokens / "tokens.json").read_text())
    epochs = tr["phase1_epochs"] + tr["phase2_epochs"]
    if epochs < 1:
        raise InputError("config: genomics.train: phase1_epochs + phase2_epochs must be at least 1")
    if md["pretrained"]:
        bert = BertModel.from_pretrained(md["pretrained"], local_files_only=True, add_pooling_layer=False)
        bert_cfg = bert.config.to_dict()
    else:
        bert_cfg = bert_config(md, stats["vocab_size"], stats["window"]).to_dict()
    bert_cfg = json.loads(json.dumps(bert_cfg, default=str))
    steps_per_device = math.ceil(tr["steps_per_epoch"] / compute.devices)  # DistributedSampler's share of an epoch
    module = C2LRModule(bert_cfg, tr, total_steps=epochs * steps_per_device)
    if md["pretrained"]:
        module.encoder.bert.load_state_dict(bert.state_dict())
    if rank_zero_only.rank == 0:
        _save_encoder(module.encoder, out / "encoder_init.pt")  # seeded: the same file on every (re)run

    ds = ShardDataset(tokens / "train", tr["steps_per_epoch"], int(bert_cfg["max_position_embeddings"]))
    loader = DataLoader(ds, batch_size=None, shuffle=False, num_workers=0)
    inputs = {"tokens": tokens / "tokens.json", "shards": tokens / "train", "pretrained": md["pretrained"]}
    fp = fingerprint({"train": tr, "model": md}, tr["seed"], inputs, compute)
    result = fit(module, loader, ckpt_dir=out / "checkpoints", fp=fp, max_epochs=epochs, compute=compute,
                 progress=progress, stateful={"mix_generator": module.gen}, ddp=True,
                 callbacks=[SetEpoch(ds)], refresh_rate=max(1, steps_per_device // 10))
    module.eval()
    _save_encoder(module.encoder, out / "encoder.pt")
    # Losses with 6 decimals (history.csv's format), final_loss read from them.
    history = result.history[["loss", "phase2"]].astype({"phase2": int})
    history["loss"] = [float(f"{x:.6f}") for x in history["loss"]]
    with atomic_path(out / "history.csv") as tmp:
        history.to_csv(tmp)
    sequences_per_step = 2 * stats["batch_size"] * compute.devices
    seconds = {"simclr": 0.0, "mimix": 0.0}
    steps = {"simclr": 0, "mimix": 0}
    for epoch, s in result.step_seconds:
        phase = "simclr" if epoch < tr["phase1_epochs"] else "mimix"
        seconds[phase] += s
        steps[phase] += 1
    run = {
        "epochs": epochs, "phase1_epochs": tr["phase1_epochs"], "phase2_epochs": tr["phase2_epochs"],
        "steps_per_epoch": tr["steps_per_epoch"], "batch_pairs": stats["batch_size"],
        "sequences_per_second": {k: sequences_per_step * steps[k] / seconds[k] for k in seconds if seconds[k] > 0},
        "parameters": sum(p.numel() for p in module.encoder.parameters()),
        "final_loss": float(history["loss"].iloc[-1]), "pretrained": md["pretrained"], **result.as_json(),
    }
    write_json(out / "run.json", run)
    return run


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.dnabert_s.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", required=True, type=Path, help="output directory of the tokenize stage")
    p.add_argument("--out", required=True, type=Path)
    add_training_arguments(p)
    args = p.parse_args(argv)
    if not (args.tokens / "tokens.json").is_file():
        raise InputError(f"{args.tokens}: no tokens.json (run the tokenize stage first)")
    hp = resolve_section(("genomics",), args.config, args.hparams, parts=STAGE_PARTS["train"])
    compute = resolve_compute(args.config, args.compute)
    if rank_zero_only.rank != 0:  # a DDP worker started by Lightning: trains its share, exits inside fit
        train(args.tokens, hp, args.out, compute, args.threads, progress=False)
        return
    with remove_on_failure(args.out, ("encoder.pt", "run.json")):
        run = train(args.tokens, hp, args.out, compute, args.threads, progress=not args.no_progress)
    print(json.dumps(run))


if __name__ == "__main__":
    main()
