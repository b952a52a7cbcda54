"""The shared i-Mix pretraining stage: which clips it pretrains on, what it writes, and how training uses the trunk."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from domains.audio.semisup.models import SemiSupervised, SemisupData, load_semisup_data, split_run
from domains.audio.semisup.pretrain import load_trunk, main, pretrain_clips, pretrain_run, trunk_settings
from domains.audio.semisup.train import train_run
from ssl_core.config import deep_merge
from ssl_core.errors import InputError
from tests.audio.test_semisup import tiny_hp


@pytest.fixture
def esc50_like(tmp_path):
    """A fake ESC-50 features file: 5 classes (2 of them ESC-10) x 5 folds x 4 clips; every clip's log-mel is the
    constant value of its row index, so pretraining clips can be traced back to their rows."""
    labels = np.repeat(np.arange(5), 20)
    fold = np.tile(np.repeat(np.arange(1, 6), 4), 5)
    n = len(labels)
    mels = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, 4, 8)).copy()
    path = tmp_path / "esc50.npz"
    np.savez(path, mels=mels, labels=labels, classes=np.array([f"k{c}" for c in range(5)]), fold=fold,
             split=np.array(["train"] * n), esc10=np.isin(labels, [1, 3]), filenames=np.array([f"{i}.wav" for i in range(n)]))
    return path


def test_source_pool_is_every_clip_outside_the_test_fold_and_the_validation_clips(esc50_like):
    data = load_semisup_data(esc50_like, "esc10")
    parts = split_run(data, "esc10", 2, 0, 0.25, 0.25)
    pooled = pretrain_clips(esc50_like, "esc10", 2, data, parts, "source", 1)
    rows = set(pooled[:, 0, 0].astype(int).tolist())
    d = np.load(esc50_like)
    val_rows = {int(f.split(".")[0]) for f in data.filenames[parts["val"]]}
    expected = {i for i in range(len(d["labels"])) if d["fold"][i] != 2} - val_rows
    assert rows == expected and len(pooled) == len(expected) == 80 - len(val_rows)
    assert len(rows) > len(parts["labelled"]) + len(parts["unlabelled"])  # the other classes' clips are in it
    run = pretrain_clips(esc50_like, "esc10", 2, data, parts, "run", 1)
    assert len(run) == len(parts["labelled"]) + len(parts["unlabelled"])
    with pytest.raises(InputError, match="pretrain.pool"):
        pretrain_clips(esc50_like, "esc10", 2, data, parts, "everything", 1)


def test_source_pool_refuses_clips_from_another_features_file(esc50_like):
    data = load_semisup_data(esc50_like, "esc10")
    other = SemisupData(data.x, data.y, data.group, data.classes, np.array([f"x{f}" for f in data.filenames]))
    parts = split_run(other, "esc10", 1, 0, 0.25, 0.25)
    with pytest.raises(InputError, match="does not hold the run's clips"):
        pretrain_clips(esc50_like, "esc10", 1, other, parts, "source", 1)


def test_pretrain_writes_the_trunk_and_training_starts_from_it(tmp_path, esc50_like):
    hp = deep_merge(tiny_hp("esc10"), {"esc10": {"time_pool": 1}, "label_fraction": 0.25, "val_fraction": 0.25,
                                       "pretrain": {"pool": "source", "steps": 3}})
    info = pretrain_run(esc50_like, "esc10", 1, 0, hp, tmp_path / "pt", progress=False)
    assert info["steps"] == 3 and info["n_clips"] == json.loads((tmp_path / "pt/pretrain.json").read_text())["n_clips"]
    assert info["settings"] == trunk_settings(hp, "esc10", 1, 0)
    trunk = torch.load(tmp_path / "pt/trunk.pt", weights_only=True)
    # with lr 0 the fine-tuning leaves the convolutions as pretrained: the run started from the trunk
    frozen = deep_merge(hp, {"train": {"lr": 0.0}})
    r = train_run(esc50_like, "esc10", "imix_finetune", 1, 0, frozen, tmp_path / "run", progress=False,
                  trunk=tmp_path / "pt/trunk.pt")
    assert r["pretrain_steps"] == 3 and r["pretrain_clips"] == info["n_clips"]
    state = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    convs = [k for k in trunk if k.endswith(".weight") and trunk[k].dim() == 4]
    assert convs and all(torch.equal(state[f"model.features.{k}"], trunk[k]) for k in convs)
    scratch = train_run(esc50_like, "esc10", "supervised_10", 1, 0, frozen, tmp_path / "sup", progress=False)
    state = torch.load(tmp_path / "sup/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    assert scratch["pretrain_steps"] == 0
    assert not all(torch.equal(state[f"model.features.{k}"], trunk[k]) for k in convs)


def test_pretraining_rerun_recomputes_a_finished_trunk_and_restarts_after_a_setting_changed(tmp_path, esc50_like,
                                                                                             capfd):
    hp = deep_merge(tiny_hp("esc10"), {"esc10": {"time_pool": 1}, "label_fraction": 0.25, "val_fraction": 0.25})
    first = pretrain_run(esc50_like, "esc10", 1, 0, hp, tmp_path / "pt", progress=False)
    assert first["device"] == "cpu" and first["precision"] == "32-true" and first["resumed_at_epoch"] is None
    trunk = torch.load(tmp_path / "pt/trunk.pt", weights_only=True)
    capfd.readouterr()
    again = pretrain_run(esc50_like, "esc10", 1, 0, hp, tmp_path / "pt", progress=False)
    assert "belongs to a finished run" in capfd.readouterr().err  # snakemake -f: trained again, not restored
    assert again["loss_first_last"] == first["loss_first_last"]
    assert all(torch.equal(v, torch.load(tmp_path / "pt/trunk.pt", weights_only=True)[k]) for k, v in trunk.items())
    pretrain_run(esc50_like, "esc10", 1, 0, deep_merge(hp, {"pretrain": {"lr": 0.01}}), tmp_path / "pt", progress=False)
    assert "config.pretrain.lr: 0.002 -> 0.01" in capfd.readouterr().err


def test_training_refuses_a_missing_or_mismatched_trunk(tmp_path, esc50_like):
    hp = deep_merge(tiny_hp("esc10"), {"esc10": {"time_pool": 1}, "label_fraction": 0.25, "val_fraction": 0.25})
    with pytest.raises(InputError, match="pass --trunk"):
        train_run(esc50_like, "esc10", "fixmatch", 1, 0, hp, tmp_path / "run", progress=False)
    pretrain_run(esc50_like, "esc10", 2, 0, hp, tmp_path / "pt", progress=False)
    with pytest.raises(InputError, match=r"trunk.pt: pretrained with other settings than this run \(fold\)"):
        train_run(esc50_like, "esc10", "fixmatch", 1, 0, hp, tmp_path / "run", progress=False,
                  trunk=tmp_path / "pt/trunk.pt")
    with pytest.raises(InputError, match="augment, pretrain"):
        load_trunk(tmp_path / "pt/trunk.pt", trunk_settings(deep_merge(hp, {"pretrain": {"lr": 1.0},
                                                                            "augment": {"noise": 0.0}}), "esc10", 2, 0))
    assert not (tmp_path / "run" / "result.json").exists()


def test_command_line_pretrains_and_refuses_zero_steps(tmp_path, esc50_like, capsys):
    hp = deep_merge(tiny_hp("esc10"), {"esc10": {"time_pool": 1}, "label_fraction": 0.25, "val_fraction": 0.25})
    args = ["--features", str(esc50_like), "--dataset", "esc10", "--fold", "3", "--seed", "1", "--no-progress"]
    main([*args, "--out", str(tmp_path / "pt"), "--hparams", json.dumps(hp)])
    assert "i-Mix pretraining on" in capsys.readouterr().out and (tmp_path / "pt/trunk.pt").is_file()
    with pytest.raises(SystemExit):
        main([*args, "--out", str(tmp_path / "none"), "--hparams", json.dumps(deep_merge(hp, {"pretrain": {"steps": 0}}))])
    assert "nothing to pretrain" in capsys.readouterr().err and not (tmp_path / "none").exists()


@pytest.mark.parametrize("method,scale,trunk_moves", [("imix_finetune", 0.0, False), ("imix_finetune", 0.5, True)])
def test_trunk_lr_scale_zero_freezes_the_pretrained_trunk(tmp_path, esc50_like, method, scale, trunk_moves):
    hp = deep_merge(tiny_hp("esc10"), {"esc10": {"time_pool": 1}, "label_fraction": 0.25, "val_fraction": 0.25,
                                       "train": {"trunk_lr_scale": scale, "lr": 0.05}})
    pretrain_run(esc50_like, "esc10", 1, 0, hp, tmp_path / "pt", progress=False)
    trunk = torch.load(tmp_path / "pt/trunk.pt", weights_only=True)
    train_run(esc50_like, "esc10", method, 1, 0, hp, tmp_path / "run", progress=False, trunk=tmp_path / "pt/trunk.pt")
    state = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=False)["state_dict"]
    convs = [k for k in trunk if k.endswith(".weight") and trunk[k].dim() == 4]
    moved = not all(torch.equal(state[f"model.features.{k}"], trunk[k]) for k in convs)
    assert moved == trunk_moves
    head = [k for k in state if k.startswith("model.head.")]
    assert head and all(torch.isfinite(state[k]).all() for k in head)


@pytest.mark.parametrize("method", ["supervised_10", "fixmatch"])
def test_trunk_lr_scale_applies_only_to_runs_from_a_pretrained_trunk(method):
    hp = deep_merge(tiny_hp("esc10"), {"train": {"trunk_lr_scale": 0.1, "lr": 0.01, "lr_schedule": "constant"}})
    module = SemiSupervised(method, hp, n_classes=3, n_mels=4)
    groups = module.configure_optimizers().param_groups
    lrs = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert all(lrs[id(p)] == 0.01 for p in module.model.head.parameters())
    expected = 0.01 * (0.1 if method == "fixmatch" else 1.0)  # supervised_10 trains from scratch at the full lr
    assert all(lrs[id(p)] == pytest.approx(expected) for p in module.model.features.parameters())
