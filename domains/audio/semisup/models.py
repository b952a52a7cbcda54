"""Semi-supervised audio classification on precomputed log-mels: data splits, augmentations, the CNN, and one
Lightning module for every method.

Methods (``audio.semisup.methods``):

- ``supervised_10`` / ``supervised_100``: cross-entropy on the labelled 10 % / on every training label (weakly
  augmented, the same augmentation the semi-supervised methods use for labelled clips).
- ``imix_finetune``: i-Mix contrastive pretraining (Lee et al., 2021: contrastive learning with mixup of the
  instances and their virtual labels) of the CNN trunk on every training clip without labels
  (:class:`IMixPretraining`, ``audio.semisup.pretrain``), then the supervised training of ``supervised_10`` on the
  labelled clips: the self-supervised reference for what the pretraining alone gives.
- ``mixmatch`` (Berthelot et al., 2019): ``unlabeled_batch / K`` unlabelled clips per step (so that every semi-supervised
  method sees ``unlabeled_batch`` unlabelled rows per step), K weak augmentations of each unlabelled clip, averaged predictions
  sharpened with temperature T as its label guess; labelled and unlabelled clips (with their targets) mixed with
  random partners from the combined batch, ``lambda' = max(lambda, 1 - lambda)`` so each mixed clip stays closest
  to its own; cross-entropy on the mixed labelled part, L2 on the mixed unlabelled part, weighted by
  ``lambda_u`` ramped up linearly.
- ``fixmatch`` (Sohn et al., 2020): hard pseudo-label from a weak view where the model is confident
  (``max p >= tau``), cross-entropy of a strongly augmented view against it.
- ``fixmatch_mixup``: FixMatch with mixup (as compared in the audio semi-supervised study): the strong unlabelled views are
  mixed with each other (``lambda' = max(lambda, 1 - lambda)``) and trained with the mixup loss on the two
  pseudo-labels, each term masked by its own confidence (``ssl_core.losses.mixed_pseudo_label_loss``); with ``fixmatch.mixup_labelled`` the labelled batch is mixed with itself
  too (off by default: mixed labelled targets keep the model from becoming confident enough for the pseudo-label
  threshold within the short CPU budget; measured on the validation split, see the README).
  ``fixmatch.mixup_partner: labelled`` mixes each strong unlabelled view with a weak labelled clip (true label)
  instead. ``mixmatch.dist_align`` / ``fixmatch.dist_align``: ReMixMatch's distribution alignment of the guesses /
  weak-view predictions (``ssl_core.losses.distribution_alignment``). Both off by default (ESC-10 validation).
- ``selftrain_mixup``: offline self-training with mixup (pseudo-labelling as in Lee, 2013, a new student trained on
  the teacher's labels as in Noisy Student, Xie et al., 2020, and mixup against confirmation bias as in Arazo et al.,
  2020). The run first trains a teacher exactly as ``supervised_10`` (same seed, so the same model), labels the
  unlabelled clips with it and keeps, per predicted class, the ``selftrain.fraction`` share most confidently
  predicted (``ssl_core.losses.balanced_pseudo_labels``); then a student from scratch is trained on the labelled and
  pseudo-labelled clips with mixup (``lambda ~ Beta(selftrain.mixup_alpha, .)``, mixed inputs, mixup cross-entropy
  on the two labels: ``ssl_core.losses.mixup_cross_entropy``) for ``selftrain.steps`` steps (mixup needs longer
  training than the teacher's ``train.steps``). Why: online pseudo-labels (FixMatch) with 3 labelled
  clips per class mostly confirm clips the model already gets right; a teacher's labels picked per class add up to
  18 clips per class (``fraction`` 0.7) at ~88 % precision (ESC-10), which is what the student learns from. See the
  README for the measurements.

With ``audio.semisup.pretrain.steps > 0`` every method that uses the unlabelled clips (``PRETRAINED_METHODS``:
``imix_finetune``, ``mixmatch``, ``fixmatch``, ``fixmatch_mixup``) starts from the trunk pretrained with i-Mix for
its fold and seed (:mod:`domains.audio.semisup.pretrain`, labels unused; ``pretrain.pool`` says on which clips); the
supervised baselines use only their labelled clips and start from scratch.

Augmentations act on normalised log-mels ``[B, mels, frames]``: weak = random circular time shift and a random
gain (a constant offset in dB); strong = weak + SpecAugment time and frequency masks (torchaudio) + Gaussian noise.
All randomness comes from torch's global generator, seeded per run and saved in checkpoints; random numbers are
drawn on the CPU and moved to the clips' device, so a seed gives the same augmentations on every device (torchaudio's
masks and the Gaussian noise are drawn on the clips' device).

Training and evaluation (``audio.semisup.train``): Adam with an optional cosine decay (``lr_schedule``); before every
validation and the test, optionally recompute the BN statistics on the clean training clips (``precise_bn``);
optionally evaluate an EMA of the weights (``ema_decay``) and take pseudo-labels / guesses from it
(``ema_teacher``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from domains.audio.data.features import spec_augment
from domains.audio.semisup.methods import (METHODS, PRETRAINED_METHODS, SELF_TRAINING_METHODS,
                                       SUPERVISED_METHODS)
from ssl_core.errors import InputError
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

from ssl_core.losses import (distribution_alignment, fixmatch_loss, i_mix_loss, linear_rampup, mixed_pseudo_label_loss,
                             mixmatch_loss, mixup_cross_entropy, pseudo_labels, sharpen)
from ssl_core.losses.infonce import soft_target_cross_entropy
from ssl_core.mixup import mix, sample_lambda, sample_permutation

__all__ = ["METHODS", "PRETRAINED_METHODS", "SELF_TRAINING_METHODS", "SemisupData", "needs_trunk", "pool_frames",
           "load_semisup_data", "split_run", "normalise_bands", "SmallCNN", "Augment", "IMixPretraining", "StepLoader",
           "SemiSupervised"]



@dataclass
class SemisupData:
    """Log-mels of one semi-supervised data set: ``x`` [N, mels, frames] (dB, float32), ``y`` [N] (0..C-1), ``group`` [N] (ESC-10:
    fold 1-5; FSDD: 0 = upstream test, 1 = train), class names."""

    x: np.ndarray
    y: np.ndarray
    group: np.ndarray
    classes: list[str]
    filenames: np.ndarray


def needs_trunk(method: str, hp: dict[str, Any]) -> bool:
    """Whether ``method`` starts from the i-Mix pretrained trunk (``domains.audio.semisup.pretrain``) under ``hp``: the
    methods that use unlabelled clips, when ``pretrain.steps > 0``."""
    return method in PRETRAINED_METHODS and hp["pretrain"]["steps"] > 0


def pool_frames(x: np.ndarray, time_pool: int) -> np.ndarray:
    """Average-pool the frames of log-mels ``[N, mels, frames]`` by ``time_pool`` (trailing frames dropped)."""
    if time_pool <= 1:
        return x
    frames = x.shape[2] // time_pool * time_pool
    return x[:, :, :frames].reshape(x.shape[0], x.shape[1], -1, time_pool).mean(axis=3)


def load_semisup_data(features: Path, dataset: str, time_pool: int = 1) -> SemisupData:
    """ESC-10 (the ``esc10`` clips of the ESC-50 features, targets renumbered 0-9), FSDD, or a user's data set (every
    clip of its features file; ``group`` its fold), frames average-pooled by ``time_pool``."""
    try:
        d = np.load(features)
        arrays = {k: d[k] for k in ("mels", "labels", "classes", "fold", "split", "esc10", "filenames")}
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{features}: not a features file written by domains.audio.data.prepare ({exc})") from None
    if dataset == "esc10":
        keep = arrays["esc10"]
        targets = np.unique(arrays["labels"][keep])
        y = np.searchsorted(targets, arrays["labels"][keep])
        classes = [str(arrays["classes"][t]) for t in targets]
        group = arrays["fold"][keep]
    else:
        keep = np.ones(len(arrays["labels"]), dtype=bool)
        y = arrays["labels"]
        classes = [str(c) for c in arrays["classes"]]
        group = (arrays["split"] == "train").astype(np.int64) if dataset == "fsdd" else arrays["fold"]
    if keep.sum() == 0:
        raise InputError(f"{features}: no {dataset} clips")
    x = pool_frames(arrays["mels"][keep].astype(np.float32), time_pool)
    return SemisupData(x=x, y=y.astype(np.int64), group=group.astype(np.int64), classes=classes,
                   filenames=arrays["filenames"][keep])


def split_run(data: SemisupData, dataset: str, fold: int, seed: int, label_fraction: float,
              val_fraction: float) -> dict[str, np.ndarray]:
    """Indices of ``labelled``, ``unlabelled``, ``val`` and ``test`` clips for one run.

    Test: ESC-10 or a user data set's fold ``fold``; FSDD the upstream test set (``fold`` 0). Validation: ``val_fraction`` of the
    training clips, stratified, never trained on. Labelled: ``max(1, round(label_fraction * n_c))`` clips of each
    class ``c`` of the remaining training clips, drawn with ``seed`` (and the fold); the rest is unlabelled.
    """
    if dataset == "esc10":
        if fold not in range(1, 6):
            raise InputError(f"ESC-10 test fold must be 1-5, got {fold}")
        test = np.flatnonzero(data.group == fold)
        train = np.flatnonzero(data.group != fold)
    elif dataset == "fsdd":
        if fold != 0:
            raise InputError(f"FSDD has one fixed split (fold 0), got fold {fold}")
        test = np.flatnonzero(data.group == 0)
        train = np.flatnonzero(data.group == 1)
    else:
        folds = sorted(set(data.group.tolist()))
        if fold not in folds or len(folds) < 2:
            raise InputError(f"{dataset}: test fold {fold} is not one of its clip table's folds "
                             f"({', '.join(map(str, folds))}; training needs another)")
        test = np.flatnonzero(data.group == fold)
        train = np.flatnonzero(data.group != fold)
    rng = np.random.default_rng([seed, fold, 7919])
    val, labelled, unlabelled = [], [], []
    for c in np.unique(data.y[train]):
        members = rng.permutation(train[data.y[train] == c])
        n_val = int(round(val_fraction * len(members)))
        val.extend(members[:n_val])
        rest = members[n_val:]
        n_lab = max(1, int(round(label_fraction * len(rest))))
        labelled.extend(rest[:n_lab])
        unlabelled.extend(rest[n_lab:])
    return {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in
            (("labelled", labelled), ("unlabelled", unlabelled), ("val", val), ("test", test))}


def normalise_bands(x: np.ndarray, train_rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation per mel band ``[1, mels, 1]`` of the run's training clips ``x[train_rows]``
    (labelled and unlabelled; never validation or test). Every input of a run, pretraining clips included, is
    normalised with them."""
    train = torch.from_numpy(x[train_rows])
    return train.mean(dim=(0, 2), keepdim=True), train.std(dim=(0, 2), keepdim=True).clamp_min(1e-3)


class SmallCNN(nn.Module):
    """A small VGG-style CNN on log-mels: per channel entry one conv3x3-BN-ReLU + 2x2 max-pool block, then mean
    over frequency, max + mean over time, dropout and a linear classifier."""

    def __init__(self, n_classes: int, channels: list[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm2d(1)]
        c_in = 1
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2, ceil_mode=True)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c_in, n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's pooled features ``[B, 2 C]`` (the classifier's input, before dropout)."""
        h = self.features(x.unsqueeze(1)).mean(dim=2)  # [B, C, frames']
        return torch.cat([h.amax(dim=2), h.mean(dim=2)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


class Augment:
    """Weak and strong augmentations of normalised log-mels (see the module docstring)."""

    def __init__(self, hp: dict[str, Any], gain_scale: torch.Tensor) -> None:
        self.hp = hp
        self.gain_scale = gain_scale  # [mels]: 1 dB in normalised units, per band

    def weak(self, x: torch.Tensor) -> torch.Tensor:
        b, _, frames = x.shape
        max_shift = int(self.hp["shift"] * frames)
        if max_shift > 0:
            shifts = torch.randint(-max_shift, max_shift + 1, (b,))
            idx = ((torch.arange(frames)[None, :] - shifts[:, None]) % frames).to(x.device)
            x = torch.gather(x, 2, idx[:, None, :].expand_as(x))
        if self.hp["gain_db"] > 0:
            gain = ((torch.rand(b) * 2 - 1) * self.hp["gain_db"]).to(x.device)
            x = x + gain[:, None, None] * self.gain_scale.to(x.device)[None, :, None]
        return x

    def strong(self, x: torch.Tensor) -> torch.Tensor:
        x = self.weak(x)
        x = spec_augment(x, self.hp["time_mask"], self.hp["freq_mask"], n_masks=self.hp["n_masks"])
        if self.hp["noise"] > 0:
            x = x + self.hp["noise"] * torch.randn_like(x)
        return x


def _beta_lambda(n: int, alpha: float) -> torch.Tensor:
    lam = sample_lambda(n, alpha)
    return torch.maximum(lam, 1 - lam)


class IMixPretraining(pl.LightningModule):
    """i-Mix contrastive pretraining of ``model``'s trunk on ``clips`` (labels unused); ``losses`` holds the loss of
    every step (kept in checkpoints).

    Each step draws ``batch_size`` clips, makes two strong views, mixes the first views with a permutation of
    themselves (``lambda ~ Beta(mixup_alpha, mixup_alpha)``, :func:`ssl_core.mixup.mix`) and trains the trunk and a
    throw-away two-layer projection head (built here, after ``model``) with :func:`ssl_core.losses.i_mix_loss` (the
    mixed view's target is ``lambda`` on its own second view and ``1 - lambda`` on its partner's). Adam with ``lr``
    and weight decay 1e-4; one training step per item of the loader (:class:`StepLoader`), ``steps`` in all
    (:mod:`domains.audio.semisup.pretrain`). The classifier head is not touched. Why: with 3 labelled clips per class
    (ESC-10) the trunk learnt from the labels alone generalises poorly, and FixMatch's confident pseudo-labels are
    mostly clips it already gets right; a trunk first trained on every training clip without labels starts from
    more than the labels give. Measured (domains/audio/README.md): 3.5 points less test error for the supervised
    fine-tuning on held-out ESC-50 classes (300 steps on the run's clips), no measurable change on ESC-10 itself
    (also not with 1,000 steps on the ESC-50 pool).
    """

    def __init__(self, model: SmallCNN, clips: torch.Tensor, augment: Augment, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.model, self.clips, self.augment, self.cfg = model, clips, augment, cfg
        width = model.head[-1].in_features
        self.proj = nn.Sequential(nn.Linear(width, cfg["proj_dim"] * 2), nn.ReLU(),
                                  nn.Linear(cfg["proj_dim"] * 2, cfg["proj_dim"]))
        self.losses: list[float] = []

    def configure_optimizers(self):
        return torch.optim.Adam([*self.model.features.parameters(), *self.proj.parameters()], lr=self.cfg["lr"],
                                weight_decay=1e-4)

    def training_step(self, batch, batch_idx):
        cfg = self.cfg
        x = self.clips[torch.randint(len(self.clips), (cfg["batch_size"],))].to(self.device)
        view1, view2 = self.augment.strong(x), self.augment.strong(x)
        lam, perm = sample_lambda(len(x), cfg["mixup_alpha"]), sample_permutation(len(x))
        loss = i_mix_loss(self.proj(self.model.embed(mix(view1, lam, perm))), self.proj(self.model.embed(view2)),
                          lam, perm, cfg["temperature"])
        self.losses.append(loss.item())
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["imix_losses"] = list(self.losses)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.losses = list(checkpoint["imix_losses"])


class StepLoader(torch.utils.data.IterableDataset):
    """Yields step numbers: the module draws its own batches (with replacement) from tensors it holds. One epoch of
    the harness (``ssl_core.training.fit``) is ``steps`` training steps."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __iter__(self):
        return iter(range(self.steps))

    def __len__(self) -> int:
        return self.steps


class SemiSupervised(pl.LightningModule):
    """One method's training on one run's split (tensors held by the module; batches drawn every step)."""

    def __init__(self, method: str, hp: dict[str, Any], n_classes: int, n_mels: int) -> None:
        super().__init__()
        if method not in METHODS:
            raise InputError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
        self.save_hyperparameters()
        self.method, self.hp, self.n_classes = method, hp, n_classes
        self.model = SmallCNN(n_classes, hp["model"]["channels"], hp["model"]["dropout"])
        tr = hp["train"]
        self.ema: AveragedModel | None = None
        if tr["ema_decay"] > 0:  # weights (and BN statistics) averaged for evaluation / as the teacher
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(tr["ema_decay"]), use_buffers=True)
            self.ema.requires_grad_(False)
        self.ema_teacher = bool(tr["ema_teacher"]) and self.ema is not None
        self.register_buffer("gain_scale", torch.ones(n_mels))
        # mixmatch/fixmatch.dist_align: labelled class prior and running mean of the weak-view predictions (ReMixMatch)
        self.register_buffer("label_prior", torch.full((n_classes,), 1.0 / n_classes))
        self.register_buffer("p_model", torch.full((n_classes,), 1.0 / n_classes))
        self.x_lab = self.y_lab = self.x_unl = None

    def set_data(self, x_lab: torch.Tensor, y_lab: torch.Tensor, x_unl: torch.Tensor, gain_scale: torch.Tensor) -> None:
        """The run's clips: ``x_lab``/``y_lab`` are trained on with their labels (``selftrain_mixup``'s student: the
        labelled and pseudo-labelled clips), ``x_unl`` without (the student: the unlabelled clips not selected)."""
        self.x_lab, self.y_lab, self.x_unl = x_lab, y_lab, x_unl
        self.gain_scale.copy_(gain_scale)
        counts = torch.bincount(y_lab, minlength=self.n_classes).float()
        self.label_prior.copy_(counts / counts.sum())

    def _dist_align(self) -> bool:
        section = "mixmatch" if self.method == "mixmatch" else "fixmatch"
        return bool(self.hp[section]["dist_align"])

    @torch.no_grad()
    def align(self, probs: torch.Tensor) -> torch.Tensor:
        """``mixmatch.dist_align`` / ``fixmatch.dist_align``: update the running mean of the unlabelled predictions with this batch's, and
        return ``probs`` aligned to the labelled class prior (ReMixMatch); unchanged when off."""
        if not self._dist_align():
            return probs
        m = self.hp["train"]["dist_align_momentum"]
        self.p_model.mul_(m).add_((1 - m) * probs.mean(0))
        return distribution_alignment(probs, self.label_prior, self.p_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    @torch.no_grad()
    def refresh_bn(self, batch: int = 256) -> None:
        """``train.precise_bn``: recompute the evaluated model's BN statistics (torch ``update_bn``: a plain average
        over one pass) on the unaugmented clips the method trains on (labelled; semi-supervised methods: + unlabelled), instead
        of the running averages of the last training batches (weak, strong and mixed views)."""
        if not self.hp["train"]["precise_bn"] or self.x_lab is None:
            return
        clips = self.x_lab if self.method in SUPERVISED_METHODS else torch.cat([self.x_lab, self.x_unl])
        model = self.ema or self.model
        was_training = self.training
        update_bn([clips[i:i + batch] for i in range(0, len(clips), batch)], model, device=self.device)
        self.train(was_training)

    def on_validation_epoch_start(self) -> None:
        self.refresh_bn()

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the evaluated model: the EMA of the weights if ``train.ema_decay > 0``, else the model."""
        return (self.ema or self.model)(x)

    @torch.no_grad()
    def teacher(self, x: torch.Tensor) -> torch.Tensor:
        """The EMA model in eval mode (running BN statistics, no dropout, no gradient): pseudo-labels / guesses."""
        self.ema.eval()
        return self.ema(x)

    def configure_optimizers(self):
        tr = self.hp["train"]
        scale = tr["trunk_lr_scale"] if needs_trunk(self.method, self.hp) else 1.0
        groups = [{"params": list(self.model.head.parameters())}]
        if scale > 0:  # 0: a frozen trunk (linear probe)
            groups.append({"params": list(self.model.features.parameters()), "lr": tr["lr"] * scale})
        else:
            self.model.features.requires_grad_(False)
        opt = torch.optim.Adam(groups, lr=tr["lr"], weight_decay=tr["weight_decay"])
        if tr["lr_schedule"] == "constant":
            return opt
        # FixMatch's cosine decay: lr * cos(7 pi k / (16 K)) at step k of K (to ~0.2 lr at the end)
        steps = tr["steps"]
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: math.cos(7 * math.pi * min(k, steps) / (16 * steps)))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def _batch(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """``n`` rows of ``x`` drawn with replacement (indices from the CPU generator), on the module's device."""
        return x[torch.randint(len(x), (n,))].to(self.device)

    def training_step(self, batch, batch_idx):
        tr = self.hp["train"]
        aug = Augment(self.hp["augment"], self.gain_scale)
        i = torch.randint(len(self.x_lab), (tr["batch_size"],))
        x, y = self.x_lab[i].to(self.device), self.y_lab[i].to(self.device)
        one_hot = F.one_hot(y, self.n_classes).float()
        logs: dict[str, torch.Tensor] = {}
        if self.method in SUPERVISED_METHODS:
            loss = F.cross_entropy(self(aug.weak(x)), y)
        elif self.method in SELF_TRAINING_METHODS:
            loss = self._selftrain_mixup(aug, x, y)
        else:
            n_u = tr["unlabeled_batch"]
            if self.method == "mixmatch":  # K views each: the same number of unlabelled rows per step as FixMatch
                n_u = max(1, n_u // self.hp["mixmatch"]["k"])
            u = self._batch(self.x_unl, n_u)
            loss = getattr(self, f"_{self.method}")(aug, x, one_hot, u, logs)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(x))
        for k, v in logs.items():
            self.log(k, v, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def _selftrain_mixup(self, aug: Augment, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The student's step: weakly augmented (pseudo-)labelled clips mixed with a permutation of the batch,
        mixup cross-entropy on both labels."""
        lam, perm = sample_lambda(len(x), self.hp["selftrain"]["mixup_alpha"]), sample_permutation(len(x))
        return mixup_cross_entropy(self(mix(aug.weak(x), lam, perm)), y, y[perm.to(self.device)], lam.to(self.device))

    def _mixmatch(self, aug: Augment, x, one_hot, u, logs) -> torch.Tensor:
        mm = self.hp["mixmatch"]
        x_aug = aug.weak(x)
        u_aug = torch.cat([aug.weak(u) for _ in range(mm["k"])])
        with torch.no_grad():
            guess_logits = self.teacher(u_aug) if self.ema_teacher else self(u_aug)
            probs = self.align(torch.softmax(guess_logits, dim=1).reshape(mm["k"], len(u), -1).mean(0))
            guess = sharpen(probs, mm["temperature"]).repeat(mm["k"], 1)
        inputs = torch.cat([x_aug, u_aug])
        targets = torch.cat([one_hot, guess])
        lam, perm = _beta_lambda(len(inputs), mm["alpha"]), sample_permutation(len(inputs))
        logits = self(mix(inputs, lam, perm))
        mixed_t = mix(targets, lam, perm)
        b = len(x)
        loss_x, loss_u = mixmatch_loss(logits[:b], mixed_t[:b], logits[b:], mixed_t[b:])
        weight = mm["lambda_u"] * linear_rampup(self.global_step, mm["rampup_steps"])
        logs.update(loss_x=loss_x, loss_u=loss_u)
        return loss_x + weight * loss_u

    def _student_and_weak(self, x_in: torch.Tensor, u_weak: torch.Tensor, u_strong: torch.Tensor):
        """Student logits of the labelled and strong unlabelled rows, and the weak-view logits for pseudo-labels:
        from the EMA teacher (``train.ema_teacher``) or from the student in the same batch (as the paper).
        ``train.bn_batches: separate`` runs the labelled, weak and strong rows as three forward passes, so that each
        is normalised with its own BatchNorm batch statistics: in one joint batch the labelled clips are normalised
        with statistics dominated by the unlabelled weak and (masked, noisy) strong views."""
        b = len(x_in)
        if self.hp["train"]["bn_batches"] == "separate":  # BN statistics of each kind of view apart
            weak = self.teacher(u_weak) if self.ema_teacher else self(u_weak).detach()
            return self(x_in), weak, self(u_strong)
        if self.ema_teacher:
            logits = self(torch.cat([x_in, u_strong]))
            return logits[:b], self.teacher(u_weak), logits[b:]
        n = len(u_weak)
        logits = self(torch.cat([x_in, u_weak, u_strong]))
        return logits[:b], logits[b:b + n].detach(), logits[b + n:]

    def _aligned_logits(self, logits_w: torch.Tensor) -> torch.Tensor:
        """Weak-view logits whose softmax is the aligned prediction (the logits themselves with ``dist_align`` off)."""
        if not self._dist_align():
            return logits_w
        return torch.log(self.align(torch.softmax(logits_w.detach(), dim=1)).clamp_min(torch.finfo(logits_w.dtype).tiny))

    def _fixmatch(self, aug: Augment, x, one_hot, u, logs) -> torch.Tensor:
        fm = self.hp["fixmatch"]
        logits_x, logits_w, logits_s = self._student_and_weak(aug.weak(x), aug.weak(u), aug.strong(u))
        loss_x = soft_target_cross_entropy(logits_x, one_hot)
        loss_u, mask = fixmatch_loss(self._aligned_logits(logits_w), logits_s, fm["threshold"])
        logs.update(loss_x=loss_x, loss_u=loss_u, mask_rate=mask.mean())
        return loss_x + fm["lambda_u"] * loss_u

    def _fixmatch_mixup(self, aug: Augment, x, one_hot, u, logs) -> torch.Tensor:
        fm = self.hp["fixmatch"]
        b, n = len(x), len(u)
        x_in, x_t = aug.weak(x), one_hot
        if fm["mixup_labelled"]:
            lam_x, perm_x = _beta_lambda(b, fm["mixup_alpha"]), sample_permutation(b)
            x_in, x_t = mix(x_in, lam_x, perm_x), mix(one_hot, lam_x, perm_x)
        labelled_partners = fm["mixup_partner"] == "labelled"  # weak labelled clips, true labels
        lam_u = _beta_lambda(n, fm["mixup_alpha"])
        perm_u = torch.randint(b, (n,)) if labelled_partners else sample_permutation(n)
        u_weak, u_strong = aug.weak(u), aug.strong(u)
        mixed = mix(u_strong, lam_u, perm_u, partners=aug.weak(x) if labelled_partners else None)
        logits_x, logits_w, logits_s = self._student_and_weak(x_in, u_weak, mixed)
        loss_x = soft_target_cross_entropy(logits_x, x_t)
        labels, mask = pseudo_labels(self._aligned_logits(logits_w), fm["threshold"])
        if labelled_partners:
            loss_u = mixed_pseudo_label_loss(logits_s, labels, mask, lam_u.to(self.device), perm_u.to(self.device),
                                             partner_labels=one_hot.argmax(1),
                                             partner_mask=torch.ones(b, dtype=logits_s.dtype, device=self.device))
        else:
            loss_u = mixed_pseudo_label_loss(logits_s, labels, mask, lam_u.to(self.device), perm_u.to(self.device))
        logs.update(loss_x=loss_x, loss_u=loss_u, mask_rate=mask.mean())
        return loss_x + fm["lambda_u"] * loss_u

    def validation_step(self, batch, batch_idx):
        x, y = batch
        pred = self.evaluate(x).argmax(1)
        self.log("val_error", (pred != y).float().mean(), on_epoch=True, batch_size=len(y))

    @torch.no_grad()
    def predict_probs(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Class probabilities of the evaluated model (BN statistics refreshed first with ``precise_bn``; eval mode)."""
        self.refresh_bn()
        self.eval()
        return torch.cat([torch.softmax(self.evaluate(x[i:i + batch].to(self.device)), dim=1).cpu()
                          for i in range(0, len(x), batch)])

    def predict_labels(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        return self.predict_probs(x, batch).argmax(1)
