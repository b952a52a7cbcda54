"""Train one embedding network per method on the training classes of a metric data set, for one seed, and embed
the training and test examples.

    python -m domains.metric.metrix.train --data results/metric/data/esc50.npz --dataset esc50 --seed 0 \
        --out results/metric/esc50/seed0 [--config ...] [--hparams ...] [--compute ...] [--threads 1]

Methods (every one from the same initialisation and on the same batches for a seed, so rows pair up):

* each clean loss of ``losses`` (:func:`ssl_core.losses.metrix.contrastive_loss`, ``multi_similarity_loss``,
  ``proxy_anchor_loss`` with :class:`ssl_core.losses.metrix.ProxyAnchorProxies`);
* ``<loss> + Metrix/<place>`` for each place of ``mixing``: clean + ``metrix.weight`` x the mixed term
  (:func:`ssl_core.losses.metrix.metrix_loss`) on the positive-negative / anchor-negative pairs of the batch
  (:func:`ssl_core.losses.metrix.metrix_pairs`, one lambda ~ Beta(alpha, alpha) per batch) mixed
  (:func:`ssl_core.losses.metrix.metrix_mix`) at the inputs (only each anchor's ``metrix.input_hardest`` hardest
  negatives, as the authors, and at most ``metrix.input_pairs`` mixed inputs per batch, a random subset), at the trunk's last feature map (then pooled and embedded) or at the embeddings;
* ``contrastive + i-Mix`` (``compare: imix``): one anchor per class mixed at the input with another class's anchor,
  its i-Mix InfoNCE against the classes' second examples (:func:`ssl_core.losses.imix.i_mix_loss`), weighted by
  ``imix.weight``; ``contrastive + MoCHi``: InfoNCE of the same anchors against their in-batch negatives and
  MoCHi's synthetic hard negatives (:func:`ssl_core.losses.mochi.mix_hard_negatives`), weighted by
  ``mochi.weight``;
* ``untrained``: the network at its initialisation; ``species`` also ``TNF`` (canonical tetranucleotide
  frequencies, z-scored, L2-normalised; no training).

Batches: ``classes_per_batch`` training classes x ``per_class`` examples, drawn once per seed. Adam with a cosine
decay to 10 %; proxies at ``lr x proxy_lr_scale``. Training runs through :func:`ssl_core.training.fit`, one run per
method with its checkpoints in ``--out/checkpoints/<method>`` (resumed only with the same settings and inputs).

Outputs in ``--out`` (atomic): ``embeddings.npz`` (per method: L2-normalised embeddings of the test examples, of
the training examples, and of ``train.mixed_references`` mixed training examples, Metrix/feature pairs),
``run.json`` (methods, steps, timings, final losses). Bad settings (fewer training classes than
``classes_per_batch``, a contrastive ``pos_margin`` not below ``neg_margin``) stop with one line before training.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from domains.metric.data.build import check_classes
from domains.metric.metrix.models import EmbeddingNet, build_model
from domains.metric.settings import DATASETS, STAGE_PARTS
from ssl_core.atomic import atomic_path, remove_on_failure, write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.losses.imix import i_mix_loss
from ssl_core.losses.metrix import (MetrixPairs, ProxyAnchorProxies, contrastive_loss, metrix_loss, metrix_mix, metrix_pairs,
                                    multi_similarity_loss)
from ssl_core.losses.mochi import mix_hard_negatives, moco_info_nce
from ssl_core.mixup import mix, sample_lambda
from ssl_core.training import (Compute, add_training_arguments, fingerprint, fit, resolve_compute, start_run,
                               warmup_cosine)

__all__ = ["LOSS_NAMES", "Method", "methods", "load_data", "check_settings", "sample_batches", "MetricModule",
           "train_method", "embed", "mixed_references", "train", "main"]

LOSS_NAMES = {"contrastive": "contrastive", "multi_similarity": "multi-similarity", "proxy_anchor": "proxy anchor"}
MIX_NAMES = {"input": "Metrix/input", "feature": "Metrix/feature", "embed": "Metrix/embed", "imix": "i-Mix",
             "mochi": "MoCHi"}


class Method:
    """A row: ``loss`` (clean loss) and ``mix`` (None, a Metrix place, ``imix`` or ``mochi``)."""

    def __init__(self, loss: str, mix: str | None = None) -> None:
        self.loss, self.mix = loss, mix
        self.name = LOSS_NAMES[loss] + (f" + {MIX_NAMES[mix]}" if mix else "")
        self.slug = re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")

    def __repr__(self) -> str:
        return f"Method({self.name!r})"


def methods(hp: dict[str, Any]) -> list[Method]:
    """The trained rows of the config, in table order: each loss, then its Metrix rows; then i-Mix and MoCHi."""
    out = []
    for loss in hp["losses"]:
        out.append(Method(loss))
        out += [Method(loss, place) for place in hp["mixing"]]
    out += [Method("contrastive", other) for other in hp["compare"]]
    return out


def load_data(path: Path) -> dict[str, np.ndarray]:
    """A metric data set (``domains.metric.data.build``), checked (two training classes, no single-example class)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npz ({exc})") from None
    missing = [k for k in ("x", "y", "test") if k not in d]
    if missing:
        raise InputError(f"{path}: missing array {missing[0]!r} (run the metric data stage)")
    if d["y"].shape != (d["x"].shape[0],) or d["test"].shape != d["y"].shape:
        raise InputError(f"{path}: x, y and test must have one row per example")
    check_classes(d["y"].astype(np.int64), d["test"].astype(bool), str(path))
    return d


def check_settings(hp: dict[str, Any], n_train_classes: int) -> None:
    """Settings the schema cannot check alone; one line naming the key."""
    c = hp["loss"]["contrastive"]
    if not c["pos_margin"] < c["neg_margin"]:
        raise InputError(f"config: metric.loss.contrastive: pos_margin {c['pos_margin']} must be below neg_margin "
                         f"{c['neg_margin']}")
    if hp["train"]["classes_per_batch"] > n_train_classes:
        raise InputError(f"config: metric.train.classes_per_batch: {hp['train']['classes_per_batch']} but the data "
                         f"set has {n_train_classes} training classes")
    if not hp["losses"]:
        raise InputError("config: metric.losses: name at least one loss")


def sample_batches(y: np.ndarray, steps: int, classes: int, per_class: int, seed: int) -> np.ndarray:
    """``[steps, classes * per_class]`` row indices: each batch ``classes`` distinct classes, ``per_class`` examples
    of each (without replacement when the class has enough), grouped by class."""
    rng = np.random.default_rng([seed, 7])
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    out = np.empty((steps, classes * per_class), dtype=np.int64)
    for s in range(steps):
        chosen = rng.choice(len(by_class), size=classes, replace=False)
        out[s] = np.concatenate([rng.choice(by_class[c], size=per_class, replace=len(by_class[c]) < per_class)
                                 for c in chosen])
    return out


class _Batches(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, batches: np.ndarray, per_epoch: int) -> None:
        self.x, self.y, self.batches, self.per_epoch = x, y, torch.from_numpy(batches), per_epoch
        self.epoch = 0

    def __len__(self) -> int:
        return self.per_epoch

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.batches[self.epoch * self.per_epoch + i]
        return self.x[rows], self.y[rows]


class _SetEpoch(pl.Callback):
    def __init__(self, ds: _Batches) -> None:
        self.ds = ds

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.ds.epoch = trainer.current_epoch


class MetricModule(pl.LightningModule):
    """One method's training step (see the module docstring)."""

    def __init__(self, net: EmbeddingNet, method: Method, hp: dict[str, Any], n_classes: int, total_steps: int,
                 seed: int) -> None:
        super().__init__()
        self.net, self.method, self.hp, self.total_steps = net, method, hp, total_steps
        self.gen = torch.Generator().manual_seed(seed * 1000 + 17)
        self.proxies = None
        if method.loss == "proxy_anchor":
            pa = hp["loss"]["proxy_anchor"]
            self.proxies = ProxyAnchorProxies(n_classes, hp["model"]["embedding_dim"], alpha=pa["alpha"],
                                              margin=pa["margin"], generator=self.gen)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        share = self.hp["train"]["time_shift"]
        if x.ndim != 3 or share <= 0:
            return x
        b, _, frames = x.shape
        m = int(share * frames)
        if m < 1:
            return x
        shifts = torch.randint(-m, m + 1, (b,), generator=self.gen)
        idx = ((torch.arange(frames)[None, :] - shifts[:, None]) % frames).to(x.device)
        return torch.gather(x, 2, idx[:, None, :].expand_as(x))

    def _loss_kwargs(self) -> dict[str, float]:
        return dict(self.hp["loss"][self.method.loss])

    def clean(self, emb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        kw = self._loss_kwargs()
        if self.method.loss == "contrastive":
            return contrastive_loss(emb, y, **kw)
        if self.method.loss == "multi_similarity":
            return multi_similarity_loss(emb, y, **kw)
        assert self.proxies is not None
        return self.proxies(emb, y)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        x = self.augment(x.float())
        h = self.net.trunk(x)
        emb = self.net.head(h)
        place = self.method.mix
        if place in ("input", "feature", "embed"):
            mx = self.hp["metrix"]
            hard = mx["input_hardest"] if place == "input" else None
            pairs = metrix_pairs(y, mx["alpha"], n_hardest=hard, embeddings=emb if hard else None, generator=self.gen)
            if place == "input" and mx["input_pairs"] and pairs.anchor.shape[0] > mx["input_pairs"]:
                keep = torch.randperm(pairs.anchor.shape[0], generator=self.gen)[:mx["input_pairs"]].to(y.device)
                pairs = MetrixPairs(pairs.lam, pairs.anchor[keep], pairs.first[keep], pairs.second[keep],
                                    pairs.target[keep])
            if place == "input":
                mixed = self.net(metrix_mix(x, pairs))
            elif place == "feature":
                mixed = self.net.head(metrix_mix(h, pairs))
            else:
                mixed = metrix_mix(emb, pairs)
            loss = metrix_loss(emb, y, self.method.loss, weight=mx["weight"], pairs=pairs, mixed=mixed,
                               proxies=None if self.proxies is None else self.proxies.proxies, **self._loss_kwargs())
        else:
            loss = self.clean(emb, y)
            if place in ("imix", "mochi"):
                k = self.hp["train"]["per_class"]
                anchors = torch.arange(0, y.shape[0], k, device=y.device)
                keys = emb[anchors + 1]
                if place == "imix":
                    cfg = self.hp["imix"]
                    lam = sample_lambda(anchors.shape[0], cfg["alpha"], generator=self.gen).to(x.device)
                    perm = torch.randperm(anchors.shape[0], generator=self.gen).to(x.device)
                    mixed = self.net(mix(x[anchors], lam, perm))
                    term = i_mix_loss(mixed, keys, lam, perm, cfg["temperature"])
                else:
                    term = self.mochi(emb, y, anchors, keys)
                    cfg = self.hp["mochi"]
                loss = loss + cfg["weight"] * term
        self.log("loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=y.shape[0])
        return loss

    def mochi(self, emb: torch.Tensor, y: torch.Tensor, anchors: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """InfoNCE of each class's anchor against its positive and its in-batch negatives plus MoCHi's synthetic
        hard negatives (mixes of the ``n_hard`` hardest negatives, and of the query with them)."""
        cfg = self.hp["mochi"]
        q = emb[anchors]
        other = y[anchors][:, None] != y[None, :]  # [A, B]: every anchor has the same number of negatives
        negs = emb[other.nonzero(as_tuple=True)[1].reshape(anchors.shape[0], -1)]  # [A, N, D]
        with torch.no_grad():
            n_hard = min(cfg["n_hard"], negs.shape[1])
            sims = (q.detach()[:, None, :] * negs.detach()).sum(-1)
            hardest = F.normalize(negs.detach()[torch.arange(q.shape[0])[:, None], sims.topk(n_hard, 1).indices], dim=-1)
            a = q.shape[0]
            pair_index = torch.randint(n_hard, (a, cfg["n_mix"], 2), generator=self.gen)
            alpha = torch.rand(a, cfg["n_mix"], generator=self.gen, dtype=torch.float64)
            query_index = torch.randint(n_hard, (a, cfg["n_query_mix"]), generator=self.gen)
            beta = cfg["beta_max"] * torch.rand(a, cfg["n_query_mix"], generator=self.gen, dtype=torch.float64)
            synth = mix_hard_negatives(q, hardest, pair_index.to(q.device), alpha.to(q.device),
                                       query_index.to(q.device), beta.to(q.device))
        extra = torch.cat([negs, synth.to(negs.dtype)], dim=1)
        return moco_info_nce(q, keys, q.new_zeros(0, q.shape[1]), cfg["temperature"], extra_negatives=extra)

    def configure_optimizers(self) -> dict[str, Any]:
        tr = self.hp["train"]
        groups = [{"params": list(self.net.parameters()), "lr": tr["lr"]}]
        if self.proxies is not None:
            groups.append({"params": list(self.proxies.parameters()), "lr": tr["lr"] * tr["proxy_lr_scale"]})
        opt = torch.optim.Adam(groups, weight_decay=tr["weight_decay"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(0, self.total_steps, 0.1))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _as_input(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(x, dtype=np.float32))


def train_method(method: Method, kind: str, x: torch.Tensor, y: torch.Tensor, batches: np.ndarray,
                 hp: dict[str, Any], seed: int, ckpt_dir: Path, fp_inputs: dict[str, Any], compute: Compute,
                 threads: int | None, progress: bool, per_epoch: int) -> tuple[EmbeddingNet, dict[str, Any]]:
    """Train ``method`` on examples ``x`` with classes ``y`` (0..C-1) on ``batches``; the network and its record."""
    start_run(seed, threads)
    net = build_model(kind, hp["model"], x)
    epochs = batches.shape[0] // per_epoch
    module = MetricModule(net, method, hp, int(y.max()) + 1, epochs * per_epoch, seed)
    ds = _Batches(x, y, batches, per_epoch)
    loader = DataLoader(ds, batch_size=None, shuffle=False, num_workers=0)
    fp = fingerprint({"hp": hp, "method": method.name, "kind": kind}, seed, fp_inputs, compute)
    result = fit(module, loader, ckpt_dir=ckpt_dir, fp=fp, max_epochs=epochs, compute=compute, progress=progress,
                 stateful={"generator": module.gen}, callbacks=[_SetEpoch(ds)], refresh_rate=max(1, per_epoch // 5))
    net.eval()
    losses = [round(float(v), 6) for v in result.history["loss"]] if "loss" in result.history else []
    return net.cpu(), {"method": method.name, "steps": epochs * per_epoch, "epoch_losses": losses,
                       **result.as_json()}


@torch.no_grad()
def embed(net: EmbeddingNet, x: torch.Tensor, batch: int) -> np.ndarray:
    net.eval()
    return torch.cat([net(x[i:i + batch]) for i in range(0, x.shape[0], batch)]).numpy().astype(np.float32)


@torch.no_grad()
def mixed_references(net: EmbeddingNet | None, x: torch.Tensor, y: torch.Tensor, batches: np.ndarray, n: int,
                     alpha: float, seed: int, features: torch.Tensor | None = None) -> np.ndarray:
    """``n`` embeddings of mixed training examples: Metrix pairs of the first training batches (one lambda per
    batch, a fixed generator per seed) mixed at the trunk's feature map, then the head. ``net=None``: mix the rows
    of ``features`` (a fixed representation) and L2-normalise."""
    if n == 0:
        return np.zeros((0, 1), dtype=np.float32)
    gen = torch.Generator().manual_seed(seed * 1000 + 99)
    out, total = [], 0
    if net is not None:
        net.eval()
    for rows in torch.from_numpy(batches):
        pairs = metrix_pairs(y[rows], alpha, generator=gen)
        if net is None:
            assert features is not None
            z = F.normalize(metrix_mix(features[rows], pairs), dim=1)
        else:
            z = net.head(metrix_mix(net.trunk(x[rows]), pairs))
        out.append(z)
        total += z.shape[0]
        if total >= 4 * n:
            break
    z = torch.cat(out)
    keep = torch.randperm(z.shape[0], generator=gen)[:n]
    return z[keep].numpy().astype(np.float32)


def train(data_path: Path, dataset: str, seed: int, hp: dict[str, Any], out: Path, compute: Compute | None = None,
          threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Train every method for ``seed``; write ``embeddings.npz`` and ``run.json`` in ``out``."""
    compute = compute or Compute()
    d = load_data(data_path)
    test = d["test"].astype(bool)
    y_all = d["y"].astype(np.int64)
    y_train = np.unique(y_all[~test], return_inverse=True)[1]
    check_settings(hp, int(y_train.max()) + 1)
    tr = hp["train"]
    x_train, x_test = _as_input(d["x"][~test]), _as_input(d["x"][test])
    ytr = torch.from_numpy(y_train)
    epochs = math.ceil(tr["steps"] / tr["steps_per_epoch"])
    per_epoch = math.ceil(tr["steps"] / epochs)
    batches = sample_batches(y_train, epochs * per_epoch, tr["classes_per_batch"], tr["per_class"], seed)
    t0 = time.perf_counter()
    arrays: dict[str, np.ndarray] = {"y_test": y_all[test], "y_train": y_train}
    names: list[str] = []
    records: list[dict[str, Any]] = []

    def add(name: str, net: EmbeddingNet | None, features: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        slug = f"m{len(names):02d}"
        names.append(name)
        if net is not None:
            arrays[f"{slug}/test"] = embed(net, x_test, tr["embed_batch"])
            arrays[f"{slug}/train"] = embed(net, x_train, tr["embed_batch"]).astype(np.float16)
        else:
            assert features is not None
            arrays[f"{slug}/test"] = F.normalize(features[1], dim=1).numpy()
            arrays[f"{slug}/train"] = F.normalize(features[0], dim=1).numpy().astype(np.float16)
        mixed = mixed_references(net, x_train, ytr, batches, tr["mixed_references"], hp["metrix"]["alpha"], seed,
                                 None if features is None else features[0])
        arrays[f"{slug}/mixed"] = mixed.astype(np.float16)

    kind = dataset
    start_run(seed, threads)
    add("untrained", build_model(kind, hp["model"], x_train))
    if "tnf" in d:
        t = torch.from_numpy(d["tnf"].astype(np.float32))
        mu, sd = t[~torch.from_numpy(test)].mean(0), t[~torch.from_numpy(test)].std(0).clamp_min(1e-8)
        z = (t - mu) / sd
        add("TNF", None, (z[~torch.from_numpy(test)], z[torch.from_numpy(test)]))
    inputs = {"data": data_path}
    for method in methods(hp):
        net, record = train_method(method, kind, x_train, ytr, batches, hp, seed, out / "checkpoints" / method.slug,
                                   inputs, compute, threads, progress, per_epoch)
        add(method.name, net)
        records.append(record)
        print(f"{dataset} seed {seed}: {method.name}: {record['fit_seconds']:.1f} s", flush=True)
    arrays["methods"] = np.array(json.dumps(names))
    with atomic_path(out / "embeddings.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    run = {"dataset": dataset, "seed": seed, "methods": names, "trained": records, "steps": epochs * per_epoch,
           "n_train": int(x_train.shape[0]), "n_test": int(x_test.shape[0]),
           "train_classes": int(y_train.max()) + 1, "seconds": time.perf_counter() - t0,
           "threads": torch.get_num_threads()}
    write_json(out / "run.json", run)
    return run


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.metric.metrix.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path, help="output of the metric data stage (.npz)")
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path)
    add_training_arguments(p)
    args = p.parse_args(argv)
    if not args.data.is_file():
        raise InputError(f"{args.data}: no such file (run the metric data stage first)")
    hp = resolve_section(("metric",), args.config, args.hparams, dataset=args.dataset, parts=STAGE_PARTS["train"])
    compute = resolve_compute(args.config, args.compute)
    with remove_on_failure(args.out, ("embeddings.npz", "run.json")):
        run = train(args.data, args.dataset, args.seed, hp, args.out, compute, args.threads, not args.no_progress)
    print(json.dumps({k: run[k] for k in ("dataset", "seed", "steps", "seconds")}))


if __name__ == "__main__":
    main()
