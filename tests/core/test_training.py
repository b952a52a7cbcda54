"""The training harness (ssl_core.training) on a toy module: exact resume after SIGTERM, the resume policy
(fingerprint, finished runs, older checkpoints, crafted files), the stage's own generators in checkpoints,
compute settings, and the shared warm-up cosine schedule."""

from __future__ import annotations

import math
import os
import pickle
import random
import signal

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from ssl_core.errors import InputError, TrainingInterrupted
from ssl_core.training import (RUN_STATE_KEY, Compute, fingerprint, fit, load_checkpoint, start_run,
                               warmup_cosine)


class Toy(pl.LightningModule):
    """Linear regression with a dropout-like random mask (uses the global torch RNG) and a stage generator."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 1)
        self.gen = torch.Generator().manual_seed(5)
        self.noise: list[float] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        mask = (torch.rand_like(x) > 0.2).float()  # global RNG
        jitter = float(torch.rand(1, generator=self.gen))  # the stage's generator
        self.noise.append(jitter)
        loss = ((self.lin(x * mask).squeeze(1) - y) ** 2).mean() * (1 + 0.01 * jitter)
        self.log("loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", ((self.lin(x).squeeze(1) - y) ** 2).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class SigtermAt(pl.Callback):
    """Send this process SIGTERM after one training step of one epoch (as SLURM does at the time limit)."""

    def __init__(self, epoch: int, batch: int = 1) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGTERM)


def _loaders(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(64, generator=g)
    train = DataLoader(TensorDataset(x[:48], y[:48]), batch_size=8, shuffle=True)
    val = DataLoader(TensorDataset(x[48:], y[48:]), batch_size=16)
    return train, val


def _run(tmp_path, fp, epochs=6, callbacks=(), **kw):
    start_run(0, threads=1)
    module = Toy()
    train, val = _loaders()
    result = fit(module, train, val, ckpt_dir=tmp_path / "checkpoints", fp=fp, max_epochs=epochs, progress=False,
                 stateful={"gen": module.gen}, callbacks=callbacks, **kw)
    return module, result


def _weights(module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


FP = fingerprint({"train": {"lr": 0.05}}, seed=0)


def test_sigterm_then_rerun_resumes_and_matches_an_uninterrupted_run(tmp_path, capfd):
    ref, ref_result = _run(tmp_path / "ref", FP)
    with pytest.raises(TrainingInterrupted, match="rerun the same command to resume"):
        _run(tmp_path / "run", FP, callbacks=[SigtermAt(2)])
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert ckpt["callbacks"][RUN_STATE_KEY]["finished"] is False
    resumed, result = _run(tmp_path / "run", FP)
    err = capfd.readouterr().err
    assert "resuming" in err and "SIGTERM: stopping after epoch 2" in err  # the running epoch was finished
    assert result.resumed_at_epoch == 3 and len(result.epoch_seconds) == 3  # only epochs 3, 4, 5 trained here
    assert torch.equal(_weights(resumed), _weights(ref))  # the same stream of random numbers: identical weights
    assert resumed.noise == ref.noise[-len(resumed.noise):]  # the stage's generator continued where it stopped
    # the history of the killed process's epochs survives in the checkpoint
    assert list(result.history.index) == list(range(6))
    assert np.allclose(result.history["loss"], ref_result.history["loss"])


def test_changed_setting_trains_from_scratch_and_names_the_reason(tmp_path, capfd):
    with pytest.raises(TrainingInterrupted):
        _run(tmp_path, FP, callbacks=[SigtermAt(1)])
    other = fingerprint({"train": {"lr": 0.01}}, seed=0)
    changed, result = _run(tmp_path, other)
    err = capfd.readouterr().err
    assert "written with other settings or inputs (config.train.lr: 0.05 -> 0.01)" in err
    assert "training from scratch" in err and result.resumed_at_epoch is None
    fresh, _ = _run(tmp_path / "fresh", other)
    assert torch.equal(_weights(changed), _weights(fresh))  # what a fresh run with the new setting gives


def test_finished_run_is_never_resumed(tmp_path, capfd):
    first, _ = _run(tmp_path, FP)
    assert load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["callbacks"][RUN_STATE_KEY]["finished"]
    again, result = _run(tmp_path, FP)
    assert "belongs to a finished run" in capfd.readouterr().err
    assert result.resumed_at_epoch is None and len(result.epoch_seconds) == 6
    assert torch.equal(_weights(first), _weights(again))  # recomputed from scratch: the same result


def test_checkpoint_without_fingerprint_starts_over(tmp_path, capfd):
    with pytest.raises(TrainingInterrupted):
        _run(tmp_path, FP, callbacks=[SigtermAt(1)])
    last = tmp_path / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    del ckpt["callbacks"][RUN_STATE_KEY]
    torch.save(ckpt, last)
    _, result = _run(tmp_path, FP)
    assert "older version of this stage" in capfd.readouterr().err and result.resumed_at_epoch is None


def test_changed_input_or_seed_is_named(tmp_path):
    from ssl_core.training import _differences

    a = tmp_path / "a.txt"
    a.write_text("x")
    fp1 = fingerprint({}, 0, {"data": a})
    a.write_text("y")
    fp2 = fingerprint({}, 1, {"data": a})
    diffs = _differences(fp1, fp2)
    assert any(d.startswith("inputs.data:") for d in diffs) and "seed: 0 -> 1" in diffs


class _RunsCode:
    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_checkpoint_is_refused_without_running_it(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    marker = tmp_path / "ran"
    with open(tmp_path / "checkpoints" / "last.ckpt", "wb") as fh:
        pickle.dump({"state_dict": _RunsCode(marker)}, fh)
    with pytest.raises(InputError, match="last.ckpt: not a loadable checkpoint"):
        _run(tmp_path, FP)
    assert not marker.exists()


def test_best_state_and_monitor(tmp_path):
    module, result = _run(tmp_path, FP, monitor=("val_loss", "min"))
    assert result.best_epoch is not None and 0 <= result.best_epoch < 6
    best_loss = result.history["val_loss"].min()
    assert result.history["val_loss"].iloc[result.best_epoch] == pytest.approx(best_loss)
    assert set(result.best_state) == set(module.state_dict())


def test_python_and_numpy_generators_round_trip(tmp_path):
    from ssl_core.training import _get_state, _set_state

    for gen, draw in ((random.Random(3), lambda g: g.random()), (np.random.default_rng(3), lambda g: g.random()),
                      (torch.Generator().manual_seed(3), lambda g: float(torch.rand(1, generator=g)))):
        draw(gen)
        path = tmp_path / "state.pt"
        torch.save({"s": _get_state(gen)}, path)
        expected = draw(gen)
        _set_state(gen, torch.load(path, weights_only=True)["s"])
        assert draw(gen) == expected


def test_compute_settings():
    assert Compute().resolved_precision() == ("bf16-mixed" if torch.cuda.is_available()
                                              and torch.cuda.is_bf16_supported() else "32-true")
    assert Compute(accelerator="cpu", precision="auto").resolved_precision() == "32-true"
    with pytest.raises(InputError, match="compute.precision"):
        Compute(precision="fp8")
    with pytest.raises(InputError, match="compute.accelerator"):
        Compute(accelerator="tpu")
    with pytest.raises(InputError, match="compute: unknown key 'device'"):
        Compute.from_config({"device": 2})


def test_multi_device_refused_where_the_stage_has_no_ddp(tmp_path):
    with pytest.raises(InputError, match="compute.devices: 2 devices asked for"):
        _run(tmp_path, FP, compute=Compute(accelerator="cpu", devices=2))
    assert not (tmp_path / "checkpoints" / "last.ckpt").exists()


def test_warmup_cosine():
    f = warmup_cosine(warmup_steps=4, total_steps=20, floor=0.1)
    assert [f(k) for k in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == pytest.approx(1.0) and f(20) == pytest.approx(0.1) and f(100) == pytest.approx(0.1)
    assert f(12) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    g = warmup_cosine(0, 10, 0.0)
    assert g(0) == pytest.approx(1.0) and g(10) == pytest.approx(0.0)
