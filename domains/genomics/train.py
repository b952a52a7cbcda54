"""Train the DNA encoder with the C^2LR curriculum of DNABERT-S: phase 1 weighted SimCLR, phase 2 MI-Mix.

    python -m domains.genomics.train --tokens results/genomics/tokens --out results/genomics/train \
        [--config ...] [--hparams ...] [--threads 1] [--no-progress]

Each step takes one pre-sampled batch of positive pairs (two non-overlapping fragments of one genome; the pairs of
a batch come from distinct species), streamed from the epoch's token shard. Phase 1 (``train.phase1_epochs``):
weighted SimCLR (:func:`ssl_core.losses.mimix.weighted_simclr`) over the 2B pooled embeddings with in-batch
negatives. Phase 2 (``train.phase2_epochs``): MI-Mix - the hidden states of anchor i and anchor pi(i) are mixed
at a random layer with lambda_i ~ Beta(alpha, alpha) and the mixed output must recover lambda against the
positives of both sources (:func:`ssl_core.losses.imix.i_mix_loss`), plus ``mimix_simclr_weight`` times the
phase-1 loss. AdamW, linear warm-up then cosine decay.

Outputs in ``--out``: ``encoder_init.pt`` (the encoder before contrastive training, same seed: the random-init
baseline), ``encoder.pt`` (trained), ``history.csv`` (per-epoch loss and phase), ``run.json`` (timings,
sequences/s per phase) and ``checkpoints/last.ckpt`` (a rerun resumes from it).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.loggers import CSVLogger
from torch.utils.data import DataLoader, Dataset
from transformers import BertConfig, BertModel

from domains.genomics.hparams import resolve_hparams
from domains.genomics.model import DNAEncoder, bert_config
from ssl_core.atomic import atomic_path, remove_on_failure, write_json
from ssl_core.errors import InputError, report_input_errors
from ssl_core.losses.imix import i_mix_loss
from ssl_core.losses.mimix import weighted_simclr
from ssl_core.runtime import set_threads

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
    def __init__(self, ds: ShardDataset) -> None:
        self.ds = ds

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.ds.epoch = trainer.current_epoch


class PhaseTimer(pl.Callback):
    """Training-step wall time and sequences per phase (the figure benchmarks/genomics_train.py also measures)."""

    def __init__(self) -> None:
        self.seconds = {"simclr": 0.0, "mimix": 0.0}
        self.sequences = {"simclr": 0, "mimix": 0}
        self._t = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        phase = module.phase()
        self.seconds[phase] += time.perf_counter() - self._t
        self.sequences[phase] += 2 * batch.shape[0]


class EpochHistory(pl.Callback):
    """Append (epoch, mean loss, phase) to ``epochs.csv`` at the end of every epoch."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        m = trainer.callback_metrics
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with open(self.path, "a") as fh:
            if new:
                fh.write("epoch,loss,phase2\n")
            fh.write(f"{trainer.current_epoch},{float(m['loss']):.6f},{float(m['phase2']):.0f}\n")


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
        self.log("loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=batch.shape[0])
        self.log("phase2", float(self.phase() == "mimix"), on_step=False, on_epoch=True, batch_size=batch.shape[0])
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        tr = self.hparams.train
        opt = torch.optim.AdamW(self.parameters(), lr=tr["lr"], weight_decay=tr["weight_decay"])
        total, warm = max(1, self.hparams.total_steps), tr["warmup_steps"]

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _save_encoder(encoder: DNAEncoder, dest: Path) -> None:
    blob = {"config": encoder.bert.config.to_dict(), "state_dict": encoder.bert.state_dict()}
    blob["config"] = json.loads(json.dumps(blob["config"], default=str))
    with atomic_path(dest) as tmp:
        torch.save(blob, tmp)


def train(tokens: Path, hp: dict[str, Any], out: Path, threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    set_threads(threads)
    tr, md = hp["train"], hp["model"]
    pl.seed_everything(tr["seed"], workers=True, verbose=False)
    stats = json.loads((tokens / "tokens.json").read_text())
    epochs = tr["phase1_epochs"] + tr["phase2_epochs"]
    if epochs < 1:
        raise InputError("config: genomics.train: phase1_epochs + phase2_epochs must be at least 1")
    if md["pretrained"]:
        bert = BertModel.from_pretrained(md["pretrained"], local_files_only=True, add_pooling_layer=False)
        bert_cfg = bert.config.to_dict()
    else:
        bert_cfg = bert_config(md, stats["vocab_size"], stats.get("window", stats["max_tokens"])).to_dict()
    bert_cfg = json.loads(json.dumps(bert_cfg, default=str))
    module = C2LRModule(bert_cfg, tr, total_steps=epochs * tr["steps_per_epoch"])
    if md["pretrained"]:
        module.encoder.bert.load_state_dict(bert.state_dict())
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "encoder_init.pt").exists():
        _save_encoder(module.encoder, out / "encoder_init.pt")

    ds = ShardDataset(tokens / "train", tr["steps_per_epoch"], int(bert_cfg["max_position_embeddings"]))
    loader = DataLoader(ds, batch_size=None, shuffle=False, num_workers=0)
    ckpt_dir = out / "checkpoints"
    timer = PhaseTimer()
    callbacks: list[pl.Callback] = [EpochHistory(out / "logs" / "epochs.csv"),
                                    ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0), SetEpoch(ds), timer]
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=max(1, tr["steps_per_epoch"] // 10)))
    trainer = pl.Trainer(
        max_epochs=epochs, accelerator="auto", devices=1, logger=CSVLogger(out, name="logs", version=""),
        callbacks=callbacks, enable_progress_bar=progress, enable_model_summary=False, log_every_n_steps=1,
        num_sanity_val_steps=0, limit_val_batches=0, deterministic=False,
    )
    last = ckpt_dir / "last.ckpt"
    t0 = time.perf_counter()
    trainer.fit(module, loader, ckpt_path=str(last) if last.exists() else None)
    fit_seconds = time.perf_counter() - t0
    module.eval()
    _save_encoder(module.encoder, out / "encoder.pt")
    # One row per epoch, appended as epochs end (survives interruption and resume); a rerun epoch keeps its last row.
    history = pd.read_csv(out / "logs" / "epochs.csv").groupby("epoch").last()
    with atomic_path(out / "history.csv") as tmp:
        history.to_csv(tmp)
    run = {
        "epochs": epochs, "phase1_epochs": tr["phase1_epochs"], "phase2_epochs": tr["phase2_epochs"],
        "steps_per_epoch": tr["steps_per_epoch"], "batch_pairs": stats["batch_size"], "fit_seconds": fit_seconds,
        "sequences_per_second": {k: timer.sequences[k] / timer.seconds[k] for k in timer.seconds if timer.seconds[k] > 0},
        "parameters": sum(p.numel() for p in module.encoder.parameters()),
        "final_loss": float(history["loss"].iloc[-1]), "threads": torch.get_num_threads(),
        "device": str(module.device), "pretrained": md["pretrained"],
    }
    write_json(out / "run.json", run)
    return run


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", required=True, type=Path, help="output directory of the tokenize stage")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if not (args.tokens / "tokens.json").is_file():
        raise InputError(f"{args.tokens}: no tokens.json (run the tokenize stage first)")
    hp = resolve_hparams(args.config, args.hparams)
    with remove_on_failure(args.out, ("encoder.pt", "run.json")):
        run = train(args.tokens, hp, args.out, args.threads, progress=not args.no_progress)
    print(json.dumps(run))


if __name__ == "__main__":
    main()
