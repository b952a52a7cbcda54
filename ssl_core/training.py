"""The one training harness every training stage calls: :func:`start_run` to seed, :func:`fit` to train.

A stage keeps only its model, data, loss and schedule choice; this module owns everything around them:

- **Seeding**: :func:`start_run` sets torch threads and seeds Python, numpy and torch (before the stage builds its
  model, so initialisation is seeded). Every checkpoint holds the RNG states (torch, CUDA, numpy, Python) and the
  states of the stage's own generators (``stateful``), restored on resume so that mixup draws, shuffles and
  augmentations continue the same random stream.
- **Checkpoints** at epoch boundaries only (``last.ckpt`` every ``checkpoint_every`` epochs and at the end; the
  best monitored epoch with ``monitor``). Resuming from the middle of an epoch makes Lightning create the
  DataLoader iterator again, which draws one more random number than an uninterrupted run and breaks exact
  reproduction (measured: benchmarks/faults.py). Step-based stages cut their steps into epochs.
- **Resume policy**: ``last.ckpt`` is resumed only when it is unfinished and its fingerprint (:func:`fingerprint`:
  the resolved stage config, the seed, the compute settings and the checksums of the inputs) equals the run's;
  otherwise a warning names the reason (``train.lr: 0.001 -> 0.0001``, another input, a finished run, an older
  format) and training starts from scratch. A finished checkpoint is never resumed, so ``snakemake -f`` and a
  config edit recompute the result of a fresh run. A checkpoint that does not load with
  ``torch.load(weights_only=True)`` is refused with one clear error and none of its code runs.
- **Interruption**: SIGTERM (SLURM's time limit, preemption, ``scancel``) is held until the running epoch ends,
  then training stops (Lightning alone would stop after the running batch); an exception or SIGTERM writes
  ``last.ckpt`` and the stage exits 143 with
  :class:`ssl_core.errors.TrainingInterrupted` (the rerun resumes). Lightning's SLURM requeue is off: Snakemake
  tracks the job.
- **Devices**: :class:`Compute` (the ``compute`` config section): ``accelerator: auto`` uses a GPU when the job
  has one, ``precision: auto`` is bf16 mixed precision on GPUs that support it and fp32 elsewhere; ``devices > 1``
  runs DDP (gloo on the CPU, NCCL on GPUs) for the stages that declare ``ddp=True`` and is refused by the others.
  Under DDP, ranks other than 0 exit after training; rank 0 writes the stage's outputs.
- **History and timings**: per-epoch metrics (everything logged with ``on_epoch=True``, or the last value of
  ``on_step`` metrics), kept in the checkpoints so that a resumed run has the whole history; wall time of every
  epoch and every training step; the device the steps ran on.
- **Progress bar** (``progress``), and :func:`warmup_cosine`, the learning-rate schedule the stages share.

Checkpoints are written by Lightning through an fsspec transaction (temporary file, then move), so a SIGKILL
during a save leaves the previous ``last.ckpt`` intact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pickle
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.plugins.environments import LightningEnvironment, SLURMEnvironment
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.utilities.exceptions import SIGTERMException

from ssl_core.errors import InputError, TrainingInterrupted
from ssl_core.runtime import set_threads

__all__ = ["Compute", "FitResult", "History", "start_run", "fingerprint", "file_checksum", "fit", "warmup_cosine",
           "load_checkpoint", "TrainingInterrupted", "RUN_STATE_KEY", "add_training_arguments",
           "resolve_compute"]

RUN_STATE_KEY = "ssl_run"  # where a checkpoint keeps the fingerprint, the finished flag and the RNG states
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")
ACCELERATORS = ("auto", "cpu", "gpu")


@dataclasses.dataclass(frozen=True)
class Compute:
    """Where and how training runs (the ``compute`` config section)."""

    accelerator: str = "auto"
    devices: int = 1
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.accelerator not in ACCELERATORS:
            raise InputError(f"config: compute.accelerator: {self.accelerator!r} is not one of {list(ACCELERATORS)}")
        if self.precision not in PRECISIONS:
            raise InputError(f"config: compute.precision: {self.precision!r} is not one of {list(PRECISIONS)}")
        if int(self.devices) < 1:
            raise InputError(f"config: compute.devices: must be at least 1, got {self.devices}")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> Compute:
        section = dict(section or {})
        unknown = sorted(set(section) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise InputError(f"config: compute: unknown key {unknown[0]!r}")
        return cls(**section)

    def uses_cuda(self) -> bool:
        return self.accelerator in ("auto", "gpu") and torch.cuda.is_available()

    def resolved_precision(self) -> str:
        """``auto``: bf16 mixed precision on a CUDA GPU that supports it, fp32 otherwise."""
        if self.precision != "auto":
            return self.precision
        if self.uses_cuda() and torch.cuda.is_bf16_supported():
            return "bf16-mixed"
        return "32-true"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def start_run(seed: int, threads: int | None = None) -> int:
    """Set torch threads (the rule's ``threads:``; :func:`ssl_core.runtime.set_threads`) and seed Python, numpy
    and torch with ``seed``. Call it before building the model. Returns the number of threads."""
    n = set_threads(threads)
    pl.seed_everything(seed, workers=True, verbose=False)
    return n


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a file's bytes; of a directory: of its files' relative paths and bytes, in sorted order."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(f.relative_to(path)).encode() + b"\0")
            digest.update(file_checksum(f).encode())
        return digest.hexdigest()
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"{path}: cannot read input ({exc.strerror})") from None


def fingerprint(config: Mapping[str, Any], seed: int, inputs: Mapping[str, str | Path | None] | None = None,
                compute: Compute | None = None) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the resolved stage config (everything the stage read from
    its config section and command line), the seed, the compute settings and the SHA-256 of each input file or
    directory (``inputs``: name -> path; None entries are recorded as absent)."""
    return {
        "config": json.loads(json.dumps(config, sort_keys=True, default=str)),
        "seed": int(seed),
        "compute": (compute or Compute()).as_dict(),
        "inputs": {name: (file_checksum(p) if p is not None else None) for name, p in sorted((inputs or {}).items())},
    }


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Dotted keys where two fingerprints differ, with the old and new value (checksums shortened)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += _differences(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{where}.{key}" if where else str(key))
        return out
    if old == new:
        return []

    def short(v: Any) -> str:
        text = json.dumps(v, default=str)
        return text[:13] + "..." if len(text) > 40 else text

    return [f"{where}: {short(old)} -> {short(new)}"]


def warmup_cosine(warmup_steps: int, total_steps: int, floor: float) -> Callable[[int], float]:
    """Learning-rate factor for ``torch.optim.lr_scheduler.LambdaLR`` (stepped every optimiser step): linear
    warm-up ``(k + 1) / warmup_steps`` for ``k < warmup_steps``, then cosine decay from 1 to ``floor``:
    ``floor + (1 - floor) (1 + cos(pi t)) / 2`` with ``t = min(1, (k - warmup) / max(1, total - warmup))``."""
    warm, total = int(warmup_steps), max(1, int(total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    return factor


# --- state kept in checkpoints ---


def _get_state(obj: Any) -> Any:
    if isinstance(obj, torch.Generator):
        return obj.get_state()
    if isinstance(obj, random.Random):
        return obj.getstate()
    if isinstance(obj, np.random.Generator):
        return json.dumps(obj.bit_generator.state)
    return obj.state_dict()


def _set_state(obj: Any, state: Any) -> None:
    if isinstance(obj, torch.Generator):
        obj.set_state(state)
    elif isinstance(obj, random.Random):
        obj.setstate(_tuples(state))
    elif isinstance(obj, np.random.Generator):
        obj.bit_generator.state = json.loads(state)
    else:
        obj.load_state_dict(state)


def _tuples(x: Any) -> Any:
    """random.Random.setstate wants tuples where a checkpoint round trip may give lists."""
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


def _global_rng_state() -> dict[str, Any]:
    np_state = np.random.get_state(legacy=False)
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                       "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                       "gauss": float(np_state["gauss"])}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_global_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937", "state": {"key": n["key"].numpy().astype(np.uint32),
                                                               "pos": n["pos"]},
                         "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class _RunState(pl.Callback):
    """Fingerprint, finished flag, RNG states and the stage's own generators, saved with every checkpoint."""

    def __init__(self, fp: dict[str, Any], stateful: Mapping[str, Any]) -> None:
        self.fp = json.dumps(fp, sort_keys=True)
        self.stateful = dict(stateful)
        self.finished = False

    @property
    def state_key(self) -> str:
        return RUN_STATE_KEY

    def state_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fp, "finished": self.finished, "rng": _global_rng_state(),
                "stateful": {name: _get_state(obj) for name, obj in self.stateful.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _set_global_rng_state(state_dict["rng"])
        for name, obj in self.stateful.items():
            _set_state(obj, state_dict["stateful"][name])


class History(pl.Callback):
    """Per-epoch metrics (everything logged with ``on_epoch=True``; of ``on_step`` metrics the epoch's last
    value), kept in the checkpoints so that a resumed run still has the whole history."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, float]] = {}

    def _record(self, trainer: pl.Trainer, validation: bool) -> None:
        # callback_metrics keeps the last validation values between validations: take each kind from its own hook.
        row = self.rows.setdefault(trainer.current_epoch, {"epoch": trainer.current_epoch})
        for key, value in trainer.callback_metrics.items():
            if key.startswith("val_") == validation:
                row[key] = float(value)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._record(trainer, validation=False)

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._record(trainer, validation=True)

    def frame(self):
        """The history as a pandas DataFrame indexed by epoch."""
        import pandas as pd

        if not self.rows:
            return pd.DataFrame({"epoch": []}).set_index("epoch")
        return pd.DataFrame(sorted(self.rows.values(), key=lambda r: r["epoch"])).set_index("epoch")

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows.values()]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = {int(r["epoch"]): dict(r) for r in state_dict["rows"]}


class _Timer(pl.Callback):
    """Wall time of each training epoch (without validation) and step (forward, backward, update), and the
    device the steps ran on."""

    def __init__(self) -> None:
        self.epoch_seconds: list[float] = []
        self.step_seconds: list[tuple[int, float]] = []
        self.device = "cpu"
        self.start_epoch = 0
        self._epoch = self._step = 0.0

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.device = str(module.device)
        self.start_epoch = trainer.current_epoch  # after a resume: the first epoch this process trains

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._epoch = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.epoch_seconds.append(time.perf_counter() - self._epoch)

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:  # noqa: ANN001
        self._step = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.step_seconds.append((trainer.current_epoch, time.perf_counter() - self._step))


class _StopAtEpochEnd(pl.Callback):
    """Hold a SIGTERM until the running epoch has ended, then hand it to Lightning's handler, so that training
    stops at the epoch boundary and the checkpoint written on the way out resumes exactly. Lightning alone stops
    after the running batch, and a checkpoint from inside an epoch does not resume exactly (the sampler and the
    stage's streams start the epoch over). A signal during the last epoch lets training finish. One device only:
    under DDP, Lightning's handling (every rank stops after the running batch) stays."""

    def __init__(self) -> None:
        self.pending = False
        self._lightning_handler: Any = None

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.world_size == 1 and threading.current_thread() is threading.main_thread():
            self._lightning_handler = signal.getsignal(signal.SIGTERM)  # Lightning's; it restores the old one
            signal.signal(signal.SIGTERM, self._hold)

    def _hold(self, signum: int, frame: Any) -> None:
        self.pending = True

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        last_epoch = trainer.current_epoch + 1 >= trainer.max_epochs
        if self.pending and not last_epoch and callable(self._lightning_handler):
            print(f"SIGTERM: stopping after epoch {trainer.current_epoch}", file=sys.stderr)
            self._lightning_handler(signal.SIGTERM, None)


class _CheckpointOnException(pl.Callback):
    """Write ``last.ckpt`` when fitting ends by SIGTERM or an exception, so no finished epoch is lost."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, exception: BaseException) -> None:
        if trainer.global_step > 0:
            trainer.save_checkpoint(self.path)


def load_checkpoint(path: Path) -> dict:
    """``torch.load(weights_only=True)`` of a checkpoint; one clear error naming the file when it does not load
    (a crafted pickle is refused without running any of its code)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a loadable checkpoint ({first}); delete it to start this run over") from None


def _is_rank_zero() -> bool:
    return int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0


def _resume_or_start_over(ckpt_dir: Path, fp: dict[str, Any]) -> str | None:
    """``last.ckpt`` to resume, or None after clearing ``ckpt_dir``."""
    last = ckpt_dir / "last.ckpt"
    reason = None
    resume_epoch = None
    if last.exists():
        ckpt = load_checkpoint(last)
        state = ckpt.get("callbacks", {}).get(RUN_STATE_KEY)
        if state is None:
            reason = "written by an older version of this stage (no fingerprint)"
        else:
            diffs = _differences(json.loads(state["fingerprint"]), json.loads(json.dumps(fp, sort_keys=True)))
            if diffs:
                more = f" and {len(diffs) - 4} more" if len(diffs) > 4 else ""
                reason = "written with other settings or inputs (" + "; ".join(diffs[:4]) + more + ")"
            elif state["finished"]:
                reason = "belongs to a finished run (a finished run is never resumed)"
            else:
                resume_epoch = int(ckpt.get("epoch", 0))
    if resume_epoch is not None:
        if _is_rank_zero():
            print(f"resuming {last} (saved in epoch {resume_epoch})", file=sys.stderr)
        return str(last)
    if _is_rank_zero():
        if reason:
            print(f"warning: {last}: {reason}; training from scratch", file=sys.stderr)
        for old_ckpt in ckpt_dir.glob("*.ckpt"):
            old_ckpt.unlink()
    return None


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns: the history, timings, where it ran, and the best monitored weights."""

    history: Any  # pandas.DataFrame indexed by epoch
    fit_seconds: float
    epoch_seconds: list[float]  # epochs trained by this process (a resumed run: only the remaining ones)
    step_seconds: list[tuple[int, float]]  # (epoch, seconds) of each training step of this process
    device: str
    precision: str
    devices: int
    resumed_at_epoch: int | None  # the first epoch this process trained after resuming; None: from scratch
    best_state: dict[str, torch.Tensor] | None
    best_epoch: int | None
    trainer: pl.Trainer

    def median_epoch_seconds(self) -> float | None:
        return float(np.median(self.epoch_seconds)) if self.epoch_seconds else None

    def mean_step_seconds(self, skip: int = 0) -> float | None:
        """Mean step time, leaving out the first ``skip`` steps (warm-up) when more remain."""
        times = [s for _, s in self.step_seconds]
        times = times[skip:] if len(times) > skip else times
        return float(np.mean(times)) if times else None

    def as_json(self) -> dict[str, Any]:
        """The timing and device fields every stage records in its run file."""
        return {"fit_seconds": self.fit_seconds, "epoch_seconds_median": self.median_epoch_seconds(),
                "step_seconds_mean": self.mean_step_seconds(), "device": self.device, "precision": self.precision,
                "devices": self.devices, "resumed_at_epoch": self.resumed_at_epoch,
                "threads": torch.get_num_threads()}


def fit(
    module: pl.LightningModule,
    train_loader: Any,
    val_loader: Any = None,
    *,
    ckpt_dir: str | Path,
    fp: dict[str, Any],
    max_epochs: int,
    compute: Compute | None = None,
    progress: bool = True,
    checkpoint_every: int = 1,
    val_every: int = 1,
    monitor: tuple[str, str] | None = None,
    stateful: Mapping[str, Any] | None = None,
    callbacks: Sequence[pl.Callback] = (),
    ddp: bool = False,
    deterministic: bool = False,
    refresh_rate: int | None = None,
) -> FitResult:
    """Train ``module`` for ``max_epochs`` epochs, resuming from ``ckpt_dir/last.ckpt`` when it is an unfinished
    run with the same fingerprint ``fp`` (:func:`fingerprint`), else from scratch with a warning naming the
    reason. See the module docstring for what is owned here.

    ``monitor``: (metric, ``max``|``min``) keeps the best validated epoch, returned as ``best_state`` and
    ``best_epoch``. ``stateful``: name -> generator or object with ``state_dict``/``load_state_dict`` (a
    ``torch.Generator``, ``random.Random``, ``numpy.random.Generator``) saved in every checkpoint. ``ddp``: the
    stage supports ``compute.devices > 1``. Raises :class:`TrainingInterrupted` when SIGTERM or Ctrl-C stopped
    training before its last epoch (``last.ckpt`` is kept; a rerun resumes)."""
    compute = compute or Compute()
    ckpt_dir = Path(ckpt_dir)
    if compute.devices > 1 and not ddp:
        raise InputError(f"config: compute.devices: {compute.devices} devices asked for, but this stage trains on "
                         "one device (multi-device DDP: medical and genomics training)")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    resume = _resume_or_start_over(ckpt_dir, fp)

    run_state = _RunState(fp, stateful or {})
    history, timer = History(), _Timer()
    last = ModelCheckpoint(dirpath=ckpt_dir, filename="periodic", every_n_epochs=checkpoint_every, save_last=True,
                           save_top_k=1, save_on_train_epoch_end=True, enable_version_counter=False)
    cbs: list[pl.Callback] = [last, run_state, history, timer, _StopAtEpochEnd(),
                              _CheckpointOnException(ckpt_dir / "last.ckpt")]
    best = None
    if monitor is not None:
        best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor[0], mode=monitor[1], save_top_k=1,
                               save_last=False, enable_version_counter=False)
        cbs.append(best)
    if progress:
        if refresh_rate is None:
            try:
                refresh_rate = max(1, len(train_loader) // 20)
            except TypeError:
                refresh_rate = 1
        cbs.append(TQDMProgressBar(refresh_rate=refresh_rate))
    cbs.extend(callbacks)
    precision = compute.resolved_precision()
    strategy: Any = "auto"
    if compute.devices > 1:
        # Lightning starts the other processes itself, also inside a SLURM job whose one task runs this stage
        # (it would otherwise expect SLURM to have started one process per device).
        strategy = DDPStrategy(cluster_environment=LightningEnvironment())
    plugins = None
    if compute.devices == 1 and SLURMEnvironment.detect():
        # SIGTERM (time limit, preemption) stops training and the checkpoint is saved; the rerun of the job
        # resumes. Lightning's own requeue would bypass Snakemake's job tracking, so it is off.
        plugins = [SLURMEnvironment(auto_requeue=False)]
    trainer = pl.Trainer(
        max_epochs=max_epochs, accelerator=compute.accelerator, devices=compute.devices,
        strategy=strategy, precision=precision,
        logger=CSVLogger(ckpt_dir.parent, name="logs", version=""), callbacks=cbs, enable_progress_bar=progress,
        enable_model_summary=False, num_sanity_val_steps=0, check_val_every_n_epoch=val_every,
        limit_val_batches=None if val_loader is not None else 0, log_every_n_steps=1, deterministic=deterministic,
        plugins=plugins,
    )
    t0 = time.perf_counter()
    try:
        trainer.fit(module, train_loader, val_loader, ckpt_path=resume, weights_only=True)
    except SIGTERMException:
        pass  # Lightning stops at the epoch boundary after SIGTERM; _CheckpointOnException saved last.ckpt
    fit_seconds = time.perf_counter() - t0
    if trainer.received_sigterm or trainer.interrupted:
        raise TrainingInterrupted(f"training stopped at step {trainer.global_step}; rerun the same command to resume")
    run_state.finished = True
    trainer.save_checkpoint(ckpt_dir / "last.ckpt")  # marked finished: never resumed
    if not trainer.is_global_zero:
        raise SystemExit(0)  # DDP: rank 0 writes the outputs
    best_state = best_epoch = None
    if best is not None and best.best_model_path:
        blob = load_checkpoint(Path(best.best_model_path))
        best_state, best_epoch = blob["state_dict"], int(blob["epoch"])
    return FitResult(history=history.frame(), fit_seconds=fit_seconds, epoch_seconds=list(timer.epoch_seconds),
                     step_seconds=list(timer.step_seconds), device=timer.device, precision=precision,
                     devices=compute.devices, resumed_at_epoch=timer.start_epoch if resume else None, best_state=best_state,
                     best_epoch=best_epoch, trainer=trainer)



def add_training_arguments(parser: Any) -> None:
    """The options every training stage's command line shares: --config, --hparams, --compute, --threads,
    --no-progress."""
    parser.add_argument("--config", action="append", type=Path,
                        help="config YAML merged over config/config.yaml (repeatable)")
    parser.add_argument("--hparams", default=None, help="JSON object merged over the stage's config section")
    parser.add_argument("--compute", default=None,
                        help="JSON object merged over the compute section (accelerator, devices, precision)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default $SLURM_CPUS_PER_TASK or 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def resolve_compute(config_paths: list[Path] | None, compute_json: str | None) -> Compute:
    """The ``compute`` section (config files, then the ``--compute`` JSON) as a :class:`Compute`."""
    from ssl_core.config import resolve_section

    return Compute.from_config(resolve_section(("compute",), config_paths, compute_json))
