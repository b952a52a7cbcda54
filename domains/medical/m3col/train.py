"""Train one method (M3CoL, MOGONET: :mod:`.mogonet`, or logistic regression: :mod:`.logreg`) on one data set with
one seed, then predict its test split.

Stage of the medical pipeline; run from Snakemake or on its own::

    python -m domains.medical.m3col.train --data results/medical/ROSMAP/data.h5ad --method m3col --seed 0 \
        --out results/medical/ROSMAP/m3col/seed0 [--protocol fixed|resplit] [--chosen select.json] \
        [--config config/config.yaml] [--hparams '{"train": {"epochs": 50}}']

The split is split ``--seed`` of ``--protocol`` (:func:`domains.medical.m3col.splits.split_rows`: the data set's
fixed split, or a seeded stratified re-split of all rows). ``--chosen``: the ``chosen`` settings of a
cross-validated selection (:mod:`.select`) merged over the config. Model selection never looks at the test split:
M3CoL trains on all training rows and reports the last epoch by default; with ``val_fraction`` > 0 a stratified,
seeded validation split is carved from the training rows and ``train.selection: best_val`` may pick the epoch with
the best validation accuracy. MOGONET, as its authors, trains on all training rows and reports its last epoch.
Outputs in ``--out``: ``predictions.tsv`` (test probabilities), ``run.json`` (test metrics, selected epoch, device,
timings), ``history.csv`` (per-epoch losses and validation metrics) and ``checkpoints/``.

Training runs through :func:`ssl_core.training.fit`: a rerun of an interrupted job (SIGTERM, SIGKILL) resumes
from ``checkpoints/last.ckpt`` and ends with the metrics of an uninterrupted run; a finished run, or one whose
settings, seed, data or compute settings changed, trains from scratch. ``--compute`` chooses the device(s):
M3CoL trains with DDP over ``devices > 1`` (each epoch's batch split over the devices); MOGONET trains its whole
patient graph as one batch and refuses ``devices > 1``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.data import DataLoader, TensorDataset

from domains.medical.data.readers import view_slices
from domains.medical.settings import METHODS, STAGE_PARTS
from domains.medical.m3col.logreg import fit_logreg
from domains.medical.m3col.metrics import classification_metrics
from domains.medical.m3col.model import M3CoL, M3CoLConfig
from domains.medical.m3col.mogonet import MOGONET, MOGONETConfig, class_share_weights, patient_graphs
from domains.medical.m3col.splits import PROTOCOLS, scale, split_indices
from ssl_core.atomic import atomic_path, remove_on_failure, write_json
from ssl_core.config import deep_merge, resolve_section, select_parts
from ssl_core.errors import InputError, report_input_errors
from ssl_core.training import Compute, add_training_arguments, fingerprint, fit, resolve_compute, start_run

__all__ = ["METHODS", "M3CoLModule", "MOGONETModule", "train_one", "nested", "with_chosen", "add_protocol_argument",
           "read_stage_inputs", "main"]


def _log_lr(module: pl.LightningModule) -> None:
    """Log the learning rate this epoch trains with (``lr`` in history.csv; the curves figure plots it)."""
    opt = module.optimizers()
    module.log("lr", float(opt.param_groups[0]["lr"]), on_step=False, on_epoch=True, batch_size=1, sync_dist=True)


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
            self.log(f"train_{key}", out[key], on_step=False, on_epoch=True, batch_size=n, sync_dist=True)
        self.log("train_acc", (out["logits"].argmax(1) == y).float().mean(), on_step=False, on_epoch=True,
                 batch_size=n, sync_dist=True)
        _log_lr(self)
        return out["total"]

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        *views, y = batch
        logits = self.model(views)
        n = y.shape[0]
        # sync_dist: under DDP every rank logs the mean over ranks (the best-epoch choice agrees); no-op on one device
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y), batch_size=n, prog_bar=True, sync_dist=True)
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), batch_size=n, prog_bar=True, sync_dist=True)

    def configure_optimizers(self) -> dict[str, Any]:
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=self.hparams.lr_step, gamma=self.hparams.lr_gamma)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


class MOGONETModule(pl.LightningModule):
    """Lightning wrapper of MOGONET (:mod:`.mogonet`): one batch is the training patients' views, labels and loss
    weights; the graphs (``train_adjs``, ``test_adjs``) are set by the caller (derived from the data, not saved in
    checkpoints). Manual optimisation: ``pretrain_epochs`` of one Adam step per view, then ``epochs`` of one step
    per view (fresh optimisers) and one of the VCDN, as the authors' code."""

    def __init__(self, model: dict[str, Any], pretrain_epochs: int, pretrain_lr: float, lr: float,
                 vcdn_lr: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.model = MOGONET(MOGONETConfig(**{**model, "input_dims": tuple(model["input_dims"]),
                                              "hidden_dims": tuple(model["hidden_dims"])}))
        self.train_adjs: list[torch.Tensor] = []
        self.test_adjs: list[torch.Tensor] = []

    def forward(self, views: list[torch.Tensor]) -> torch.Tensor:
        """Fused logits of every patient on the prediction graph (training and test patients)."""
        return self.model(views, [a.to(self.device) for a in self.test_adjs])

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        *views, y, weight = batch
        adjs = [a.to(self.device) for a in self.train_adjs]
        n_views = len(views)
        joint = self.current_epoch >= self.hparams.pretrain_epochs
        opts = self.optimizers()
        view_opts = opts[n_views:2 * n_views] if joint else opts[:n_views]
        losses = []
        for gcn, x, adj, opt in zip(self.model.gcns, views, adjs, view_opts):
            loss = (F.cross_entropy(gcn(x, adj), y, reduction="none") * weight).mean()
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()
            losses.append(loss.detach())
        n = y.shape[0]
        unimodal = torch.stack(losses).sum()
        total = unimodal
        if joint:
            with torch.no_grad():  # the VCDN step trains the VCDN only (the GCNs learn from their own losses)
                logits = self.model.view_logits(views, adjs)
            fused = self.model.fuse(logits)
            fusion = (F.cross_entropy(fused, y, reduction="none") * weight).mean()
            opts[-1].zero_grad()
            self.manual_backward(fusion)
            opts[-1].step()
            total = total + fusion.detach()
            self.log("train_fusion_ce", fusion.detach(), on_step=False, on_epoch=True, batch_size=n)
            self.log("train_acc", (fused.argmax(1) == y).float().mean(), on_step=False, on_epoch=True, batch_size=n)
        self.log("train_unimodal_ce", unimodal, on_step=False, on_epoch=True, batch_size=n)
        self.log("train_total", total, on_step=False, on_epoch=True, batch_size=n)
        self.log("lr", float(view_opts[0].param_groups[0]["lr"]), on_step=False, on_epoch=True, batch_size=1)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Per view one Adam for pretraining and one for joint training, then the VCDN's."""
        hp = self.hparams
        pre = [torch.optim.Adam(g.parameters(), lr=hp.pretrain_lr) for g in self.model.gcns]
        joint = [torch.optim.Adam(g.parameters(), lr=hp.lr) for g in self.model.gcns]
        return [*pre, *joint, torch.optim.Adam(self.model.vcdn.parameters(), lr=hp.vcdn_lr)]


def _tensors(x: np.ndarray, y: np.ndarray, rows: np.ndarray, slices: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.as_tensor(x[np.ix_(rows, s)], dtype=torch.float32) for s in slices] + [torch.as_tensor(y[rows])]


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
    train = parts["fit"]
    one_batch = [torch.as_tensor(x[np.ix_(train, s)], dtype=torch.float32) for s in slices] + [
        torch.as_tensor(y[train]),
        torch.as_tensor(class_share_weights(y[train], n_classes), dtype=torch.float32)]
    fit_loader = DataLoader(TensorDataset(*[t.unsqueeze(0) for t in one_batch]), batch_size=None)
    cfg = MOGONETConfig(input_dims=tuple(len(s) for s in slices), n_classes=n_classes,
                        hidden_dims=tuple(mg["hidden_dims"]), dropout=mg["dropout"])
    module = MOGONETModule(dataclasses.asdict(cfg), pretrain_epochs=mg["pretrain_epochs"],
                           pretrain_lr=mg["pretrain_lr"], lr=mg["lr"], vcdn_lr=mg["vcdn_lr"])
    graphs = [patient_graphs(x[:, s], train, mg["edges_per_node"]) for s in slices]
    module.train_adjs, module.test_adjs = [g[0] for g in graphs], [g[1] for g in graphs]
    views = [torch.as_tensor(x[:, s], dtype=torch.float32) for s in slices]
    return _Setup(module, fit_loader, None, views, parts["test"], mg["pretrain_epochs"] + mg["epochs"])


def train_one(adata: ad.AnnData, hp: dict[str, Any], seed: int, out: Path, threads: int | None = None,
              progress: bool = True, method: str = "m3col", compute: Compute | None = None,
              inputs: dict[str, Path] | None = None, protocol: str = "fixed") -> dict[str, Any]:
    """Train on the training rows of split ``seed`` of ``protocol``, select, predict its test rows; write the
    outputs listed in the module docstring and return ``run.json``. ``inputs``: name -> file whose checksum a
    checkpoint must match to be resumed (the stage passes ``--data``)."""
    if method not in ("m3col", "mogonet"):
        raise InputError(f"unknown method {method!r} for train_one; known: m3col, mogonet (logreg: fit_logreg)")
    compute = compute or Compute()
    if method == "mogonet" and compute.devices > 1:
        raise InputError(f"config: compute.devices: {compute.devices} devices asked for, but the MOGONET baseline "
                         "trains its whole patient graph as one batch on one device (M3CoL trains with DDP)")
    start_run(seed, threads)
    tr = hp["train"]
    if method == "m3col":
        val_fraction, scaling, selection = hp["val_fraction"], tr["scaling"], tr["selection"]
        val_every = tr["val_every"]
    else:  # MOGONET trains on every training row and reports the last epoch, as the authors' code
        val_fraction, scaling, selection, val_every = 0.0, hp["mogonet"]["scaling"], "last", 1
    n_classes = len(adata.uns["classes"])
    parts = split_indices(adata, seed, val_fraction, hp["test_fraction"], protocol)
    if selection == "best_val" and len(parts["val"]) == 0:
        raise InputError("config: medical.train.selection: best_val needs val_fraction > 0")
    slices = view_slices(adata)
    x = scale(np.asarray(adata.X, dtype=np.float64), parts["fit"], scaling)
    y = adata.obs["label"].to_numpy().astype(np.int64)
    setup = (_setup_m3col if method == "m3col" else _setup_mogonet)(hp, x, y, parts, slices, n_classes)
    module = setup.module

    out.mkdir(parents=True, exist_ok=True)
    result = fit(
        module, setup.fit_loader, setup.val_loader, ckpt_dir=out / "checkpoints",
        fp=fingerprint({"method": method, **({"protocol": protocol} if protocol != "fixed" else {}),
                        **select_parts(hp, STAGE_PARTS[f"train_{method}"])}, seed, inputs=inputs, compute=compute),
        max_epochs=setup.epochs, compute=compute, progress=progress, checkpoint_every=tr["checkpoint_every"],
        val_every=val_every, monitor=("val_acc", "max") if selection == "best_val" else None,
        ddp=method == "m3col", deterministic=True, refresh_rate=max(1, setup.epochs // 20),
    )

    selected_epoch = result.trainer.current_epoch - 1
    if selection == "best_val":
        module.load_state_dict(result.best_state)
        selected_epoch = result.best_epoch
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
        result.history.to_csv(tmp)
    run = {
        "dataset": adata.uns["dataset"], "method": method, "seed": seed, "protocol": protocol, "metrics": metrics,
        "selection": selection, "selected_epoch": selected_epoch, "epochs": setup.epochs,
        "n_fit": len(parts["fit"]), "n_val": len(parts["val"]), "n_test": len(parts["test"]),
        **result.as_json(),
    }
    write_json(out / "run.json", run)
    return run


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"train.epochs": 150}`` -> ``{"train": {"epochs": 150}}`` (a grid point or a selection's choice)."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def with_chosen(hp: dict[str, Any], path: Path) -> dict[str, Any]:
    """``hp`` with the ``chosen`` settings of the selection record at ``path`` (:mod:`.select`) merged over it."""
    try:
        chosen = json.loads(path.read_text())["chosen"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a selection record with `chosen` settings ({exc})") from None
    return deep_merge(hp, nested(chosen))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m domains.medical.m3col.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path, help="data.h5ad written by the prepare stage")
    p.add_argument("--method", choices=METHODS, default="m3col",
                   help="M3CoL, MOGONET or logistic regression (no training loop)")
    p.add_argument("--seed", required=True, type=int, help="the training seed, and the index of the split")
    add_protocol_argument(p)
    p.add_argument("--chosen", type=Path, help="JSON of a cross-validated selection whose `chosen` settings are used")
    p.add_argument("--out", required=True, type=Path, help="output directory for this seed")
    add_training_arguments(p)
    return p


def add_protocol_argument(p: argparse.ArgumentParser) -> None:
    """``--protocol`` of the stages that train on a split (this one and :mod:`.select`)."""
    p.add_argument("--protocol", choices=PROTOCOLS, default="fixed",
                   help="fixed: the data set's split (seeded without one); resplit: a seeded re-split of all rows")


def read_stage_inputs(args: argparse.Namespace, stage: str) -> tuple[ad.AnnData, dict[str, Any]]:
    """The data set of ``--data`` and the parts of its ``medical`` section that ``stage`` reads (config files,
    dataset_overrides, ``--hparams``)."""
    if not args.data.is_file():
        raise InputError(f"{args.data}: file not found (run the prepare stage first)")
    adata = ad.read_h5ad(args.data)
    return adata, resolve_section(("medical",), args.config, args.hparams, adata.uns["dataset"],
                                  parts=STAGE_PARTS[stage])


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    adata, hp = read_stage_inputs(args, f"train_{args.method}")
    if args.chosen is not None:
        hp = with_chosen(hp, args.chosen)
    if args.method == "logreg":
        with remove_on_failure(args.out, ("predictions.tsv", "run.json", "history.csv")):
            run = fit_logreg(adata, hp, args.seed, args.out, args.protocol)
        print(json.dumps(run["metrics"]))
        return
    compute = resolve_compute(args.config, args.compute)
    # A failed or interrupted run leaves its checkpoints (a rerun resumes) but nothing that looks like a finished
    # result. Under DDP only rank 0 writes (and so removes) the outputs; the other ranks exit after training.
    outputs = ("predictions.tsv", "run.json", "history.csv") if rank_zero_only.rank == 0 else ()
    with remove_on_failure(args.out, outputs):
        run = train_one(adata, hp, args.seed, args.out, args.threads, progress=not args.no_progress,
                        method=args.method, compute=compute, inputs={"data": args.data}, protocol=args.protocol)
    print(json.dumps(run["metrics"]))


if __name__ == "__main__":
    main()
