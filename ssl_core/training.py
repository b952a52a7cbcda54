"""Lightning pieces every training stage uses so that a killed job resumes where it stopped and ends exactly where
an uninterrupted run would have.

- :class:`RNGState` stores torch's RNG states in every checkpoint and restores them on resume, so mixup draws and
  shuffles continue the same random stream (Lightning saves model, optimiser and loop state, not the RNG).
- :class:`CheckpointOnInterrupt` writes ``last.ckpt`` when training stops on SIGTERM (SLURM's time limit,
  preemption, ``scancel``) or an exception; Lightning stops on SIGTERM at the end of the running epoch.
- :func:`checkpoint_callbacks` saves ``last.ckpt`` every N epochs and at the end of training, and keeps the best
  validation checkpoint when there is a validation split.

Checkpoints are taken at epoch boundaries only: resuming from the middle of an epoch makes Lightning create the
DataLoader iterator again, which draws one more random number than an uninterrupted run and breaks exact
reproduction (measured: benchmarks/faults.py). The pipelines here train full-batch or with short epochs, so an
epoch is the natural unit of lost work.
- :func:`resume_path` returns ``last.ckpt`` if it exists and loads with ``torch.load(weights_only=True)``: a
  corrupt or crafted checkpoint fails with one clear error and no code in it is run; given the module's
  hyperparameters, it drops a checkpoint written with other ones (a rerun after a config change starts over).

Checkpoints are written by Lightning through an fsspec transaction (temporary file, then move), so a SIGKILL during
a save leaves the previous ``last.ckpt`` intact.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from ssl_core.errors import InputError

__all__ = ["RNGState", "History", "CheckpointOnInterrupt", "checkpoint_callbacks", "resume_path", "was_interrupted"]


class RNGState(pl.Callback):
    """Save and restore torch's CPU (and CUDA) RNG state with each checkpoint."""

    def state_dict(self) -> dict[str, Any]:
        state = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class History(pl.Callback):
    """Per-epoch metrics (everything logged with ``on_epoch=True``), kept in the checkpoints so that a resumed run
    still has the whole history (Lightning's CSVLogger starts a new file on resume)."""

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

        return pd.DataFrame(sorted(self.rows.values(), key=lambda r: r["epoch"])).set_index("epoch")

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows.values()]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = {int(r["epoch"]): dict(r) for r in state_dict["rows"]}


class CheckpointOnInterrupt(pl.Callback):
    """Write ``last.ckpt`` when fitting ends by SIGTERM or an exception, so no finished step is lost."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.global_step > 0:
            trainer.save_checkpoint(self.path)

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, exception: BaseException) -> None:
        self._save(trainer)


def checkpoint_callbacks(ckpt_dir: Path, every_n_epochs: int, monitor_val: bool) -> tuple[ModelCheckpoint, ModelCheckpoint | None]:
    """(periodic ``last.ckpt`` every ``every_n_epochs`` epochs and at the end, best-``val_acc`` checkpoint or None)."""
    # save_top_k=1 without a monitor keeps the latest periodic checkpoint; with save_top_k=0 Lightning would only
    # write last.ckpt at the very end.
    last = ModelCheckpoint(dirpath=ckpt_dir, filename="periodic", every_n_epochs=every_n_epochs, save_last=True,
                           save_top_k=1, save_on_train_epoch_end=True, enable_version_counter=False)
    best = None
    if monitor_val:
        best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val_acc", mode="max", save_top_k=1,
                               save_last=False, enable_version_counter=False)
    return last, best


def _load_checkpoint(last: Path) -> dict:
    """``torch.load(weights_only=True)`` of ``last``; one clear error naming the file when it does not load."""
    try:
        return torch.load(last, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{last}: not a loadable checkpoint ({first}); delete it to start this run over") from None


def _drop_if_stale(last: Path, saved: Any, hparams: dict) -> bool:
    """Delete ``last`` (with a warning) when its saved hyperparameters differ from ``hparams``."""
    def canon(d: Any) -> str:
        return json.dumps(d, sort_keys=True, default=str)

    if saved is None or canon(dict(saved)) == canon(hparams):
        return False
    print(f"warning: {last}: written with other hyperparameters; starting this run over", file=sys.stderr)
    last.unlink()
    return True


def drop_stale_checkpoint(last: Path, hparams: dict) -> bool:
    """Delete ``last`` when it was written with other hyperparameters than ``hparams`` (the module's
    ``hparams``), so that a rerun after a config change starts over instead of resuming (or failing to resume) the
    old model. Returns True when a checkpoint was dropped; a missing or unreadable file is left alone."""
    if not last.exists():
        return False
    try:
        saved = _load_checkpoint(last).get("hyper_parameters")
    except InputError:
        return False
    return _drop_if_stale(last, saved, hparams)


def resume_path(ckpt_dir: Path, hparams: dict | None = None) -> str | None:
    """``last.ckpt`` to resume from, after checking it loads safely; None if there is none. With ``hparams`` (the
    module's), a checkpoint written with other hyperparameters is dropped first (see :func:`drop_stale_checkpoint`)
    and None returned: the run starts over."""
    last = Path(ckpt_dir) / "last.ckpt"
    if not last.exists():
        return None
    ckpt = _load_checkpoint(last)
    if hparams is not None and _drop_if_stale(last, ckpt.get("hyper_parameters"), hparams):
        return None
    return str(last)


def was_interrupted(trainer: pl.Trainer) -> bool:
    """True when fitting stopped early (SIGTERM, Ctrl-C) rather than by reaching ``max_epochs``."""
    return bool(trainer.received_sigterm or trainer.interrupted)
