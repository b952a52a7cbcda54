"""The train and tune stages on tiny synthetic data: every method trains, embeddings are unit vectors of the
configured size, and bad settings stop with one line before training and leave no output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from domains.metric.data.build import main as build_main
from domains.metric.metrix import train as train_mod
from domains.metric.metrix.train import Method, MetricModule, methods, sample_batches
from domains.metric.metrix.models import build_model
from tests.metric.conftest import TINY, tiny_hp, write_esc50, write_fragments


@pytest.fixture(scope="module")
def esc50_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("esc")
    src = write_esc50(d / "src.npz", classes=7, per_class=4)
    build_main(["--dataset", "esc50", "--source", str(src), "--out", str(d / "esc50.npz"), "--hparams",
                json.dumps({"data": TINY["data"]})])
    return d / "esc50.npz"


@pytest.fixture(scope="module")
def species_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("species")
    src = write_fragments(d / "fragments.npz")
    build_main(["--dataset", "species", "--source", str(src), "--out", str(d / "species.npz"), "--hparams",
                json.dumps({"data": TINY["data"]})])
    return d / "species.npz"


def _hparams(**override) -> str:
    hp = {k: v for k, v in TINY.items() if k not in ("data", "seeds", "tune")}
    for key, value in override.items():
        hp[key] = {**hp.get(key, {}), **value} if isinstance(value, dict) else value
    return json.dumps(hp)


def test_methods_name_every_row():
    names = [m.name for m in methods(tiny_hp())]
    assert names[:4] == ["contrastive", "contrastive + Metrix/input", "contrastive + Metrix/feature",
                         "contrastive + Metrix/embed"]
    assert "proxy anchor + Metrix/feature" in names and names[-2:] == ["contrastive + i-Mix", "contrastive + MoCHi"]
    assert len(names) == 14


def test_batches_hold_distinct_classes_grouped():
    y = np.repeat(np.arange(5), 3)
    b = sample_batches(y, 6, classes=3, per_class=2, seed=0)
    assert b.shape == (6, 6)
    for row in b:
        cls = y[row].reshape(3, 2)
        assert (cls[:, 0] == cls[:, 1]).all() and len(set(cls[:, 0])) == 3
    assert np.array_equal(b, sample_batches(y, 6, 3, 2, seed=0)) and not np.array_equal(b, sample_batches(y, 6, 3, 2, 1))


@pytest.mark.parametrize("dataset", ["esc50", "species"])
def test_train_every_method(tmp_path, dataset, esc50_data, species_data):
    data = esc50_data if dataset == "esc50" else species_data
    out = tmp_path / "seed0"
    train_mod.main(["--data", str(data), "--dataset", dataset, "--seed", "0", "--out", str(out),
                    "--hparams", _hparams(), "--no-progress"])
    run = json.loads((out / "run.json").read_text())
    emb = np.load(out / "embeddings.npz")
    names = json.loads(str(emb["methods"]))
    expected = ["untrained"] + (["TNF"] if dataset == "species" else []) + [m.name for m in methods(tiny_hp())]
    assert names == expected and run["methods"] == expected
    n_test = int(np.load(data)["test"].sum())
    for i, name in enumerate(names):
        z = emb[f"m{i:02d}/test"]
        if name != "TNF":
            assert z.shape == (n_test, 8)
        assert np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-4)
        assert emb[f"m{i:02d}/mixed"].shape[0] == 20
    # trained rows differ from the untrained network (training changed the weights)
    assert not np.allclose(emb["m00/test"], emb[f"m{names.index('contrastive'):02d}/test"])
    assert all(r["steps"] == 4 for r in run["trained"])


def test_feature_mixing_mixes_the_last_feature_map(esc50_data):
    hp = tiny_hp("esc50")
    d = np.load(esc50_data)
    x = torch.from_numpy(d["x"][~d["test"]].astype(np.float32))
    y = torch.from_numpy(np.unique(d["y"][~d["test"]], return_inverse=True)[1])
    torch.manual_seed(0)
    net = build_model("esc50", hp["model"], x)
    module = MetricModule(net, Method("contrastive", "feature"), hp, 3, 4, 0)
    h = net.trunk(x[:4])
    assert h.ndim == 4 and h.shape[1] == 8  # [B, channels, mels', frames'] before pooling
    loss = module.training_step((x[[0, 1, 4, 5]], y[[0, 1, 4, 5]]), 0)
    assert torch.isfinite(loss) and loss > 0


@pytest.mark.parametrize("override, message", [
    ({"model": {"embedding_dim": 1}}, "config: metric.model.embedding_dim: 1 is less than the minimum of 2"),
    ({"loss": {"contrastive": {"pos_margin": 0.6, "neg_margin": 0.5}}}, "pos_margin 0.6 must be below neg_margin"),
    ({"loss": {"contrastive": {"pos_margin": 0.0, "neg_margin": 2.5}}}, "config: metric.loss.contrastive.neg_margin"),
    ({"train": {"classes_per_batch": 9}}, "classes_per_batch: 9 but the data set has 3 training classes"),
    ({"metrix": {"alpah": 2.0}}, "config: metric.metrix: unknown key"),
])
def test_bad_settings_fail_before_training(tmp_path, capsys, esc50_data, override, message):
    out = tmp_path / "seed0"
    with pytest.raises(SystemExit) as exc:
        train_mod.main(["--data", str(esc50_data), "--dataset", "esc50", "--seed", "0", "--out", str(out),
                        "--hparams", _hparams(**override), "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (out / "embeddings.npz").exists() and not (out / "run.json").exists()
    assert not (out / "checkpoints").exists()  # stopped before any training


def test_one_example_class_in_the_data_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    with open(bad, "wb") as fh:
        np.savez(fh, x=np.zeros((7, 3), np.float32), y=np.array([0, 0, 1, 2, 2, 3, 3]),
                 test=np.array([0, 0, 0, 1, 1, 1, 1], bool))
    with pytest.raises(SystemExit):
        train_mod.main(["--data", str(bad), "--dataset", "species", "--seed", "0", "--out", str(tmp_path / "o")])
    assert "class 1 has a single example" in capsys.readouterr().err
    assert not (tmp_path / "o" / "run.json").exists()


def test_tune_chooses_on_validation_classes(tmp_path, species_data):
    from domains.metric.metrix import tune

    out = tmp_path / "tune.json"
    hp = json.loads(_hparams())
    hp["tune"] = TINY["tune"]
    tune.main(["--data", str(species_data), "--dataset", "species", "--out", str(out), "--hparams", json.dumps(hp)])
    rec = json.loads(out.read_text())
    assert rec["val_classes"] == 2 and rec["train_classes"] == 2  # 4 training species: 2 fit, 2 validate
    assert rec["chosen"]["train.lr"] in (0.001, 0.01) and len(rec["results"]) == 3
    assert all(0 <= r["val_recall_at_1"] <= 1 for r in rec["results"])
