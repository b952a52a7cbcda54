"""The held-out-class tuning protocol (domains.audio.semisup.dev): class groups, paired differences, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from domains.audio.semisup.dev import heldout_class_groups, main, paired_differences


@pytest.fixture()
def fake_esc50(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(50), 10)
    esc10 = np.isin(labels, [0, 1, 10, 11, 20, 21, 38, 40, 41, 12])
    path = tmp_path / "esc50.npz"
    np.savez(path, mels=rng.normal(size=(500, 4, 8)).astype(np.float16), labels=labels, esc10=esc10,
             fold=np.tile(np.repeat(np.arange(1, 6), 2), 50), classes=np.array([f"class{c}" for c in range(50)]),
             filenames=np.array([f"f{i}.ogg" for i in range(500)]))
    return path, labels, esc10


def test_groups_are_disjoint_outside_esc10_and_renumbered(fake_esc50):
    path, labels, esc10 = fake_esc50
    groups = heldout_class_groups(path, time_pool=2)
    assert len(groups) == 4
    names = [set(g.classes) for g in groups]
    assert all(len(n) == 10 for n in names) and len(set().union(*names)) == 40
    esc10_names = {f"class{c}" for c in np.unique(labels[esc10])}
    assert not esc10_names & set().union(*names)
    for g in groups:
        assert g.x.shape[1:] == (4, 4) and sorted(np.unique(g.y)) == list(range(10)) and len(g.y) == 100
        assert set(np.unique(g.group)) == {1, 2, 3, 4, 5}
    again = heldout_class_groups(path, time_pool=2)
    assert [g.classes for g in again] == [g.classes for g in groups]  # a fixed draw


def test_paired_differences():
    runs = [{"method": m, "group": 0, "fold": f, "seed": 0, "test_error": e}
            for m, errs in (("supervised_10", [0.4, 0.5, 0.3]), ("fixmatch", [0.3, 0.5, 0.2])) for f, e in
            zip((1, 2, 3), errs)]
    out = paired_differences(runs)
    assert out["supervised_10"]["diff"] == 0 and out["fixmatch"]["n_pairs"] == 3
    assert out["fixmatch"]["diff"] == pytest.approx(-0.2 / 3)
    assert out["fixmatch"]["diff_se"] == pytest.approx(np.std([-0.1, 0.0, -0.1], ddof=1) / np.sqrt(3))


def test_cli_runs_a_tiny_setting_and_appends_runs(fake_esc50, tmp_path, capsys):
    path, _, _ = fake_esc50
    tiny = {"model": {"channels": [4]}, "train": {"steps": 2, "batch_size": 4, "unlabeled_batch": 4, "eval_every": 1},
            "mixmatch": {"rampup_steps": 1}, "pretrain": {"steps": 1, "batch_size": 4}}
    out = tmp_path / "dev.jsonl"
    main(["--features", str(path), "--methods", "supervised_10,imix_finetune", "--groups", "1", "--folds", "2",
          "--seeds", "0", "--override", json.dumps(tiny), "--name", "tiny", "--out", str(out)])
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["method"] for r in runs] == ["supervised_10", "imix_finetune"]
    assert all(r["name"] == "tiny" and r["group"] == 1 and 0 <= r["test_error"] <= 1 for r in runs)
    assert "| imix_finetune | 1 |" in capsys.readouterr().out


def test_cli_rejects_bad_override_and_method(fake_esc50, tmp_path):
    path, _, _ = fake_esc50
    with pytest.raises(SystemExit) as exc:
        main(["--features", str(path), "--override", '{"train": {"steps": 0}}', "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["--features", str(path), "--methods", "nope", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_cli_keeps_trunks_and_reuses_them_while_the_pretraining_settings_hold(fake_esc50, tmp_path):
    path, _, _ = fake_esc50
    tiny = {"model": {"channels": [4]}, "train": {"steps": 2, "batch_size": 4, "unlabeled_batch": 4, "eval_every": 1},
            "mixmatch": {"rampup_steps": 1}, "pretrain": {"steps": 1, "batch_size": 4}}
    args = ["--features", str(path), "--methods", "imix_finetune", "--groups", "0", "--folds", "1", "--seeds", "0",
            "--trunks", str(tmp_path / "trunks"), "--out", str(tmp_path / "dev.jsonl")]
    main([*args, "--override", json.dumps(tiny)])
    trunk = tmp_path / "trunks" / "group0_fold1_seed0" / "trunk.pt"
    first = trunk.stat().st_mtime_ns
    main([*args, "--override", json.dumps({**tiny, "train": {**tiny["train"], "lr": 0.01}})])  # training only
    assert trunk.stat().st_mtime_ns == first
    main([*args, "--override", json.dumps({**tiny, "pretrain": {"steps": 2, "batch_size": 4}})])
    assert trunk.stat().st_mtime_ns != first
    assert json.loads(trunk.with_name("pretrain.json").read_text())["steps"] == 2
