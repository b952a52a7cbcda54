"""Train one method (M3CoL, or the MOGONET-style baseline) on one data set with one seed, then predict its test
split.

Stage of the medical pipeline; run from Snakemake or on its own::

    python -m domains.medical.train --data results/medical/ROSMAP/data.h5ad --method m3col --seed 0 \
        --out results/medical/ROSMAP/m3col/seed0 [--config config/config.yaml] [--hparams '{"train": {"epochs": 50}}']

Model selection never looks at the test split: a stratified, seeded validation split is carved from the training
rows; ``train.selection`` is ``last`` (the last epoch, the default) or ``best_val`` (the epoch with the best
validation accuracy). Data sets without a fixed split get a seeded stratified train/test split first.
Outputs in ``--out``: ``predictions.tsv`` (test probabilities), ``run.json`` (test metrics, selected epoch,
timings), ``history.csv`` (per-epoch losses and validation metrics) and ``checkpoints/`` (``last.ckpt`` makes a
rerun resume instead of starting over).
"""

from __future__ import annotations

import argparse
import sys
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.plugins.environments import SLURMEnvironment
from pytorch_lightning.utilities.exceptions import SIGTERMException
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

from domains.medical.data import view_slices
from domains.medical.hparams import resolve_hparams
from domains.medical.metrics import classification_metrics
from domains.medical.model import M3CoL, M3CoLConfig
from domains.medical.mogonet import MOGONET, MOGONETConfig, patient_graph
from ssl_core.atomic import atomic_path, remove_on_failure, write_json
from ssl_core.errors import InputError, report_input_errors
from ssl_core.runtime import set_threads
from ssl_core.training import (
    CheckpointOnInterrupt,
    History,
    RNGState,
    checkpoint_callbacks,
    resume_path,
    was_interrupted,
)

__all__ = ["METHODS", "M3CoLModule", "MOGONETModule", "split_indices", "train_one", "main"]


class TrainingInterrupted(Exception):
    """Fitting stopped before its last epoch (SIGTERM, Ctrl-C): no result is written, checkpoints are kept."""


def _log_lr(module: pl.LightningModule) -> None:
    """Log the learning rate this epoch trains with (``lr`` in history.csv; the curves figure plots it)."""
    opt = module.optimizers()
    module.log("lr", float(opt.param_groups[0]["lr"]), on_step=False, on_epoch=True, batch_size=1)


class M3CoLModule(pl.LightningModule):
    """Lightning wrapper: the M3Co phase for the first ``mixup_fraction`` of epochs, soft CLIP after."""

    def __init__(self, model: dict[str, Any], lr: float, weight_decay: float, epochs: int, mixup_fraction: float,
                 lr_step: int, lr_gamma: float) -> None:
        super().__init__()
        # Plain types only, so checkpoints load with torch.load(weights_only=True).
        self.save_hyperparameters()
        self.model = M3CoL(M3CoLConfig(**{**model, "input_dims": tuple(model["input_dims"])}))

    def forward(self, views: list[torch.Tensor]) -> torch.Tensor:
        return self.model(views)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        *views, y = batch
        use_mixup = self.current_epoch < int(self.hparams.mixup_fraction * self.hparams.epochs)
        out = self.model.loss(views, y, use_mixup)
        n = y.shape[0]
        for key in ("total", "fusion_ce", "unimodal_ce", "contrastive"):
            self.log(f"train_{key}", out[key], on_step=False, on_epoch=True, batch_size=n)
        self.log("train_acc", (out["logits"].argmax(1) == y).float().mean(), on_step=False, on_epoch=True, batch_size=n)
        _log_lr(self)
        return out["total"]

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        *views, y = batch
        logits = self.model(views)
        n = y.shape[0]
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y), batch_size=n, prog_bar=True)
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), batch_size=n, prog_bar=True)

    def configure_optimizers(self) -> dict[str, Any]:
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=self.hparams.lr_step, gamma=self.hparams.lr_gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


class MOGONETModule(pl.LightningModule):
    """Lightning wrapper of the MOGONET-style baseline: one batch is the whole patient graph plus a row mask."""

    def __init__(self, model: dict[str, Any], lr: float, weight_decay: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = MOGONET(MOGONETConfig(**{**model, "input_dims": tuple(model["input_dims"]),
                                              "hidden_dims": tuple(model["hidden_dims"])}))
        self.adjs: list[torch.Tensor] = []  # set by the caller; derived from the data, not saved in checkpoints

    def forward(self, views: list[torch.Tensor]) -> torch.Tensor:
        return self.model(views, [a.to(self.device) for a in self.adjs])

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        *views, y, mask = batch
        out = self.model.loss(views, [a.to(self.device) for a in self.adjs], y, mask)
        n = int(mask.sum())
        for key in ("total", "fusion_ce", "unimodal_ce"):
            self.log(f"train_{key}", out[key], on_step=False, on_epoch=True, batch_size=n)
        self.log("train_acc", (out["logits"][mask].argmax(1) == y[mask]).float().mean(), on_step=False,
                 on_epoch=True, batch_size=n)
        _log_lr(self)
        return out["total"]

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        *views, y, mask = batch
        logits = self(views)[mask]
        n = int(mask.sum())
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y[mask]), batch_size=n, prog_bar=True)
        self.log("val_acc", (logits.argmax(1) == y[mask]).float().mean(), batch_size=n, prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


class EpochTimer(pl.Callback):
    """Wall time of each training epoch (the benchmark's figure), without validation."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.times.append(time.perf_counter() - self._start)


def split_indices(adata: ad.AnnData, seed: int, val_fraction: float, test_fraction: float) -> dict[str, np.ndarray]:
    """Row indices of the fit, validation and test sets (stratified, seeded; the fixed test split when present)."""
    y = adata.obs["label"].to_numpy()
    split = adata.obs["split"].to_numpy()
    idx = np.arange(adata.n_obs)
    if (split == "all").all():
        train, test = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    else:
        train, test = idx[split == "train"], idx[split == "test"]
    if val_fraction > 0:
        fit, val = train_test_split(train, test_size=val_fraction, stratify=y[train], random_state=seed)
    else:
        fit, val = train, train[:0]
    return {"fit": np.sort(fit), "val": np.sort(val), "test": np.sort(test)}


def _scale(x: np.ndarray, fit_rows: np.ndarray, how: str) -> np.ndarray:
    """Scale features with statistics of the fitting rows only (no test information leaks in)."""
    if how == "none":
        return x
    ref = x[fit_rows]
    if how == "minmax":
        lo = ref.min(axis=0, keepdims=True)
        span = ref.max(axis=0, keepdims=True) - lo
        return (x - lo) / np.where(span > 0, span, 1.0)
    mean, std = ref.mean(axis=0, keepdims=True), ref.std(axis=0, keepdims=True)
    return (x - mean) / np.where(std > 0, std, 1.0)


def _tensors(x: np.ndarray, y: np.ndarray, rows: np.ndarray, slices: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.as_tensor(x[np.ix_(rows, s)], dtype=torch.float32) for s in slices] + [torch.as_tensor(y[rows])]


METHODS = ("m3col", "mogonet")


@dataclasses.dataclass
class _Setup:
    """What the generic training loop needs from a method."""

    module: pl.LightningModule
    fit_loader: DataLoader
    val_loader: DataLoader | None
    test_inputs: list[torch.Tensor]
    test_rows: slice | np.ndarray  # rows of the module's output that are the test samples
    epochs: int


def _setup_m3col(hp, x, y, parts, slices, n_classes) -> _Setup:
    tr, m3 = hp["train"], hp["m3co"]
    fit_t = _tensors(x, y, parts["fit"], slices)
    batch_size = tr["batch_size"] or len(parts["fit"])
    fit_loader = DataLoader(TensorDataset(*fit_t), batch_size=batch_size, shuffle=True, drop_last=False)
    val_loader = None
    if len(parts["val"]):
        val_loader = DataLoader(TensorDataset(*_tensors(x, y, parts["val"], slices)), batch_size=len(parts["val"]))
    cfg = M3CoLConfig(
        input_dims=tuple(len(s) for s in slices), n_classes=n_classes, embed_dim=hp["model"]["embed_dim"],
        head_dim=hp["model"]["head_dim"], dropout=hp["model"]["dropout"], alpha=m3["alpha"], prob=m3["prob"],
        temperature=m3["temperature"], soft_clip_temperature=m3["soft_clip_temperature"],
        contrastive_weight=m3["weight"], unimodal_weight=m3["unimodal_weight"], mix_at=m3["mix_at"],
    )
    module = M3CoLModule(dataclasses.asdict(cfg), lr=tr["lr"], weight_decay=tr["weight_decay"], epochs=tr["epochs"],
                         mixup_fraction=m3["mixup_fraction"], lr_step=tr["lr_step"], lr_gamma=tr["lr_gamma"])
    test_inputs = _tensors(x, y, parts["test"], slices)[:-1]
    return _Setup(module, fit_loader, val_loader, test_inputs, slice(None), tr["epochs"])


def _setup_mogonet(hp, x, y, parts, slices, n_classes) -> _Setup:
    mg = hp["mogonet"]
    rows = np.arange(len(y))
    views = _tensors(x, y, rows, slices)[:-1]
    y_t = torch.as_tensor(y)

    def masked(idx: np.ndarray) -> DataLoader:
        mask = torch.zeros(len(y), dtype=torch.bool)
        mask[idx] = True
        return DataLoader(TensorDataset(*[v.unsqueeze(0) for v in views], y_t.unsqueeze(0), mask.unsqueeze(0)),
                          batch_size=None)

    cfg = MOGONETConfig(input_dims=tuple(len(s) for s in slices), n_classes=n_classes,
                        hidden_dims=tuple(mg["hidden_dims"]), vcdn_hidden=mg["vcdn_hidden"], dropout=mg["dropout"])
    module = MOGONETModule(dataclasses.asdict(cfg), lr=mg["lr"], weight_decay=mg["weight_decay"])
    module.adjs = [patient_graph(x[:, s], mg["k_neighbors"]) for s in slices]
    val_loader = masked(parts["val"]) if len(parts["val"]) else None
    return _Setup(module, masked(parts["fit"]), val_loader, views, parts["test"], mg["epochs"])


def train_one(adata: ad.AnnData, hp: dict[str, Any], seed: int, out: Path, threads: int | None = None,
              progress: bool = True, method: str = "m3col") -> dict[str, Any]:
    """Train, select, predict; write the outputs listed in the module docstring and return ``run.json``."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    set_threads(threads)
    pl.seed_everything(seed, workers=True, verbose=False)
    tr = hp["train"]
    n_classes = len(adata.uns["classes"])
    parts = split_indices(adata, seed, hp["val_fraction"], hp["test_fraction"])
    if tr["selection"] == "best_val" and len(parts["val"]) == 0:
        raise InputError("config: medical.train.selection: best_val needs val_fraction > 0")
    slices = view_slices(adata)
    x = _scale(np.asarray(adata.X, dtype=np.float64), parts["fit"], tr["scaling"])
    y = adata.obs["label"].to_numpy().astype(np.int64)
    setup = (_setup_m3col if method == "m3col" else _setup_mogonet)(hp, x, y, parts, slices, n_classes)
    module = setup.module

    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoints"
    periodic, select = checkpoint_callbacks(ckpt_dir, tr["checkpoint_every"], monitor_val=setup.val_loader is not None)
    timer = EpochTimer()
    history = History()
    callbacks: list[pl.Callback] = [periodic, RNGState(), history, CheckpointOnInterrupt(ckpt_dir / "last.ckpt"), timer]
    if select is not None:
        callbacks.append(select)
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=max(1, setup.epochs // 20)))
    trainer = pl.Trainer(
        max_epochs=setup.epochs, accelerator="auto", devices=1, logger=CSVLogger(out, name="logs", version=""),
        callbacks=callbacks, enable_progress_bar=progress, enable_model_summary=False, num_sanity_val_steps=0,
        check_val_every_n_epoch=tr["val_every"], log_every_n_steps=1, deterministic=True,
        # SLURM: SIGTERM (time limit, preemption) stops training and CheckpointOnInterrupt saves; the rerun of the
        # job resumes. Lightning's own requeue would bypass Snakemake's job tracking, so it is off.
        plugins=[SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else None,
    )
    t0 = time.perf_counter()
    try:
        trainer.fit(module, setup.fit_loader, setup.val_loader, ckpt_path=resume_path(ckpt_dir), weights_only=True)
    except SIGTERMException:
        pass  # Lightning stops at the epoch boundary after SIGTERM; CheckpointOnInterrupt saved last.ckpt
    fit_seconds = time.perf_counter() - t0
    if was_interrupted(trainer):
        raise TrainingInterrupted(f"training stopped at step {trainer.global_step}; rerun the same command to resume")

    selected_epoch = trainer.current_epoch - 1
    if tr["selection"] == "best_val":
        best = torch.load(select.best_model_path, map_location="cpu", weights_only=True)
        module.load_state_dict(best["state_dict"])
        selected_epoch = int(best["epoch"])
    module.eval()
    with torch.no_grad():
        prob = torch.softmax(module([t.to(module.device) for t in setup.test_inputs]), dim=1).cpu().numpy()
    prob = prob[setup.test_rows]
    y_test = y[parts["test"]]
    metrics = classification_metrics(y_test, prob)

    pred = pd.DataFrame(prob, columns=[f"prob_{c}" for c in range(n_classes)], index=adata.obs_names[parts["test"]])
    pred.insert(0, "label", y_test)
    with atomic_path(out / "predictions.tsv") as tmp:
        pred.to_csv(tmp, sep="\t", index_label="sample")
    with atomic_path(out / "history.csv") as tmp:
        history.frame().to_csv(tmp)
    run = {
        "dataset": adata.uns["dataset"], "method": method, "seed": seed, "metrics": metrics,
        "selection": tr["selection"], "selected_epoch": selected_epoch, "epochs": setup.epochs,
        "n_fit": len(parts["fit"]), "n_val": len(parts["val"]), "n_test": len(parts["test"]),
        "fit_seconds": fit_seconds,
        "epoch_seconds_median": float(np.median(timer.times)) if timer.times else None,
        "threads": torch.get_num_threads(), "device": str(module.device),
    }
    write_json(out / "run.json", run)
    return run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m domains.medical.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path, help="data.h5ad written by the prepare stage")
    p.add_argument("--method", choices=METHODS, default="m3col", help="M3CoL or the MOGONET-style baseline")
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path, help="output directory for this seed")
    p.add_argument("--config", action="append", type=Path, help="config YAML (repeatable; default config/config.yaml)")
    p.add_argument("--hparams", default=None, help="JSON object merged over the medical config section")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default $SLURM_CPUS_PER_TASK or 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if not args.data.is_file():
        raise InputError(f"{args.data}: file not found (run the prepare stage first)")
    adata = ad.read_h5ad(args.data)
    hp = resolve_hparams(args.config, args.hparams, adata.uns["dataset"])
    try:
        # Leave the checkpoints (they let a rerun resume) but nothing that looks like a finished result.
        with remove_on_failure(args.out, ("predictions.tsv", "run.json", "history.csv")):
            run = train_one(adata, hp, args.seed, args.out, args.threads, progress=not args.no_progress,
                            method=args.method)
    except TrainingInterrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        raise SystemExit(143) from None
    print(json.dumps(run["metrics"]))


if __name__ == "__main__":
    main()
