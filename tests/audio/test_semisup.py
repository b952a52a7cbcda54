"""Semi-supervised training pieces: splits, augmentations, one step of every method, i-Mix pretraining, a tiny real
run and its reruns, metrics."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from domains.audio.data.prepare import prepare, write_npz
from torch.utils.data import DataLoader

from domains.audio.semisup.models import (METHODS, PRETRAINED_METHODS, Augment, IMixPretraining, SemiSupervised, SmallCNN,
                                   SemisupData, StepLoader, load_semisup_data, needs_trunk, split_run)
from domains.audio.semisup.evaluate import summarise
from domains.audio.semisup.pretrain import epoch_steps, pretrain_run
from domains.audio.semisup.train import train_run
from ssl_core.config import deep_merge, resolve_section
from ssl_core.errors import InputError
from ssl_core.losses import mixup_cross_entropy
from ssl_core.mixup import mix, sample_lambda, sample_permutation
from ssl_core.training import fingerprint, fit, load_checkpoint
from tests.audio.conftest import esc_subset, fsdd_subset

TINY = {"model": {"channels": [4, 8]}, "train": {"steps": 4, "batch_size": 4, "unlabeled_batch": 8, "eval_every": 2},
        "mixmatch": {"rampup_steps": 2}, "pretrain": {"steps": 2, "batch_size": 4}, "selftrain": {"steps": 4}}


def tiny_hp(dataset: str = "fsdd") -> dict:
    """The default config's run hyperparameters for ``dataset`` (its overrides applied), then the tiny sizes (which
    turn pretraining on with 2 steps, also for FSDD whose default has none)."""
    return resolve_section(("audio", "semisup"), None, json.dumps(TINY), dataset)


def _fake(dataset: str) -> SemisupData:
    rng = np.random.default_rng(0)
    if dataset == "esc10":
        y = np.repeat(np.arange(10), 40)
        group = np.tile(np.repeat(np.arange(1, 6), 8), 10)
    else:
        y = np.repeat(np.arange(10), 300)
        group = np.tile((np.arange(300) % 50 >= 5).astype(int), 10)
    return SemisupData(rng.normal(size=(len(y), 4, 6)).astype(np.float32), y, group, [str(c) for c in range(10)],
                   np.array([f"c{i}" for i in range(len(y))]))


@pytest.mark.parametrize("dataset", ["esc10", "fsdd"])
def test_split_is_disjoint_stratified_and_seeded(dataset):
    data = _fake(dataset)
    fold = 3 if dataset == "esc10" else 0
    parts = split_run(data, dataset, fold, 0, 0.1, 0.1)
    sets = [set(parts[k].tolist()) for k in ("labelled", "unlabelled", "val", "test")]
    assert sum(len(s) for s in sets) == len(data.y) and len(set().union(*sets)) == len(data.y)
    if dataset == "esc10":
        assert (data.group[parts["test"]] == 3).all() and len(parts["test"]) == 80
        per_class = 32 - round(0.1 * 32)  # training clips per class after validation
    else:
        assert (data.group[parts["test"]] == 0).all() and len(parts["test"]) == 300
        per_class = 270 - 27
    counts = np.bincount(data.y[parts["labelled"]], minlength=10)
    assert (counts == round(0.1 * per_class)).all()
    again = split_run(data, dataset, fold, 0, 0.1, 0.1)
    other = split_run(data, dataset, fold, 1, 0.1, 0.1)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["labelled"], other["labelled"])
    assert np.array_equal(parts["test"], other["test"])


def test_split_rejects_bad_fold():
    with pytest.raises(InputError, match="fold"):
        split_run(_fake("esc10"), "esc10", 0, 0, 0.1, 0.1)
    with pytest.raises(InputError, match="fold"):
        split_run(_fake("fsdd"), "fsdd", 2, 0, 0.1, 0.1)


def test_augmentations():
    torch.manual_seed(0)
    hp = {"shift": 0.5, "gain_db": 0.0, "time_mask": 3, "freq_mask": 2, "n_masks": 1, "noise": 0.0}
    x = torch.randn(6, 8, 20)
    weak = Augment(hp, torch.ones(8)).weak(x)
    for i in range(6):  # a circular shift: some roll of the original
        assert any(torch.equal(weak[i], torch.roll(x[i], s, dims=1)) for s in range(20))
    gained = Augment({**hp, "shift": 0.0, "gain_db": 6.0}, torch.full((8,), 0.5)).weak(x)
    offsets = (gained - x).mean(dim=(1, 2))
    assert torch.allclose(gained - x, offsets[:, None, None].expand_as(x), atol=1e-6) and offsets.abs().max() <= 3.0
    strong = Augment({**hp, "shift": 0.0}, torch.ones(8)).strong(x)
    assert (strong != x).any() and (strong == x).any()


@pytest.mark.parametrize("method", METHODS)
def test_one_training_step_of_every_method(method):
    torch.manual_seed(0)
    module = SemiSupervised(method, tiny_hp(), n_classes=3, n_mels=8)
    module.set_data(torch.randn(6, 8, 16), torch.tensor([0, 1, 2, 0, 1, 2]), torch.randn(20, 8, 16), torch.ones(8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log without a trainer
        loss = module.training_step(0, 0)
    assert torch.isfinite(loss) and loss.requires_grad
    loss.backward()
    assert all(p.grad is not None for p in module.model.parameters())


def test_pretrain_imix_trains_the_trunk_only_and_lowers_its_loss(tmp_path):
    torch.manual_seed(0)
    model = SmallCNN(3, [4, 8], dropout=0.0)
    head = [p.detach().clone() for p in model.head.parameters()]
    trunk = [p.detach().clone() for p in model.features.parameters()]
    clips = torch.randn(16, 8, 16) * 2
    aug = Augment({"shift": 0.0, "gain_db": 0.0, "time_mask": 2, "freq_mask": 1, "n_masks": 1, "noise": 0.1},
                  torch.ones(8))
    cfg = {"steps": 60, "batch_size": 16, "lr": 0.01, "temperature": 0.2, "mixup_alpha": 1.0, "proj_dim": 8}
    module = IMixPretraining(model, clips, aug, cfg)
    loader = DataLoader(StepLoader(20), batch_size=None, generator=torch.Generator())
    fit(module, loader, ckpt_dir=tmp_path, fp=fingerprint(cfg, 0), max_epochs=3, progress=False)
    losses = module.losses
    assert len(losses) == 60 and all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])  # instance discrimination is learnt
    assert all(torch.equal(a, b) for a, b in zip(head, model.head.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(trunk, model.features.parameters()))


@pytest.mark.parametrize("bn_batches", ["separate", "joint"])
def test_bn_batches_separate_normalises_the_labelled_rows_on_their_own(bn_batches):
    torch.manual_seed(0)
    hp = deep_merge(tiny_hp(), {"model": {"dropout": 0.0}, "train": {"bn_batches": bn_batches}})
    module = SemiSupervised("fixmatch", hp, n_classes=3, n_mels=8)
    module.train()
    x, u = torch.randn(6, 8, 16), torch.randn(10, 8, 16)
    logits_x, logits_w, logits_s = module._student_and_weak(x, u, u * 3 + 1)
    alone = module(x)
    assert logits_x.shape == (6, 3) and logits_w.shape == logits_s.shape == (10, 3) and not logits_w.requires_grad
    assert torch.allclose(logits_x, alone, atol=1e-5) == (bn_batches == "separate")


@pytest.fixture(scope="module")
def fsdd_features(tmp_path_factory, audio_mirror):
    d = tmp_path_factory.mktemp("fsdd")
    meta = fsdd_subset(audio_mirror, d / "fsdd", n=80)
    out = d / "fsdd.npz"
    write_npz(out, prepare("fsdd", meta, {}))
    return out


def test_pretraining_epochs_add_up_to_its_steps():
    assert [epoch_steps(n) for n in (1, 2, 5, 100, 300, 1000, 150, 97)] == [1, 2, 5, 100, 100, 100, 75, 97]


@pytest.mark.parametrize("method", ["supervised_10", "imix_finetune", "mixmatch", "fixmatch_mixup", "selftrain_mixup"])
def test_tiny_real_run_writes_result_and_reruns(tmp_path, fsdd_features, method, capfd):
    hp = tiny_hp()
    trunk = None
    if needs_trunk(method, hp):
        pretrain_run(fsdd_features, "fsdd", 0, 0, hp, tmp_path / "pretrain", progress=False)
        trunk = tmp_path / "pretrain" / "trunk.pt"
    r = train_run(fsdd_features, "fsdd", method, 0, 0, hp, tmp_path / "run", progress=False, trunk=trunk)
    assert 0 <= r["test_error"] <= 1 and r["steps"] == 4 and r["n_test"] == 40
    assert r["pretrain_steps"] == (2 if method in PRETRAINED_METHODS else 0)  # supervised baselines: no pretraining
    assert r["step_time_s"] > 0 and r["device"] == "cpu" and r["precision"] == "32-true"
    assert json.loads((tmp_path / "run" / "result.json").read_text())["test_error"] == r["test_error"]
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch") and len(history) == 3
    capfd.readouterr()
    again = train_run(fsdd_features, "fsdd", method, 0, 0, hp, tmp_path / "run", progress=False, trunk=trunk)
    assert "belongs to a finished run" in capfd.readouterr().err  # recomputed, not restored
    assert (again["test_error"], again["val_error"]) == (r["test_error"], r["val_error"]) and again["step_time_s"] > 0
    other = deep_merge(hp, {"train": {"lr_schedule": "constant", "lr": 0.01}})
    changed = train_run(fsdd_features, "fsdd", method, 0, 0, other, tmp_path / "run", progress=False, trunk=trunk)
    assert "config.train.lr: 0.002 -> 0.01" in capfd.readouterr().err and changed["steps"] == 4
    fresh = train_run(fsdd_features, "fsdd", method, 0, 0, other, tmp_path / "fresh", progress=False, trunk=trunk)
    assert (fresh["test_error"], fresh["val_error"]) == (changed["test_error"], changed["val_error"])
    assert torch.equal(load_checkpoint(ckpt)["state_dict"]["model.head.1.weight"],
                       load_checkpoint(tmp_path / "fresh" / "checkpoints" / "last.ckpt")["state_dict"]["model.head.1.weight"])


def test_esc10_from_esc50_features(tmp_path, audio_mirror):
    meta = esc_subset(audio_mirror, tmp_path / "esc", n=12)
    write_npz(tmp_path / "e.npz", prepare("esc50", meta, {}))
    data = load_semisup_data(tmp_path / "e.npz", "esc10", time_pool=4)
    assert data.x.shape[1:] == (64, 62) and data.y.min() == 0 and data.classes[0] == "dog"
    with pytest.raises(InputError, match="not a features file"):
        load_semisup_data(meta, "esc10")


def test_summarise_means_and_paper_rows():
    runs = [{"dataset": "esc10", "method": m, "fold": f, "seed": 0, "test_error": e, "val_error": None,
             "n_labelled": 30, "n_unlabelled": 260, "n_test": 80, "step_time_s": 0.1, "steps": 10}
            for m, errs in (("supervised_10", (0.5, 0.3)), ("fixmatch", (0.2, 0.4)), ("selftrain_mixup", (0.6, 0.3)))
            for f, e in zip((1, 2), errs)]
    m = summarise("esc10", runs)
    assert m["error_rate"]["supervised_10"]["mean"] == pytest.approx(0.4)
    assert m["error_rate"]["fixmatch"]["std"] == pytest.approx(0.1)
    assert m["beats_supervised_10"] == {"fixmatch": True, "selftrain_mixup": False}
    paired = m["minus_supervised_10"]
    assert paired["fixmatch"]["mean"] == pytest.approx(-0.1) and paired["fixmatch"]["se"] == pytest.approx(0.2)
    assert (paired["fixmatch"]["better"], paired["fixmatch"]["worse"]) == (1, 1)
    assert (paired["selftrain_mixup"]["better"], paired["selftrain_mixup"]["worse"]) == (0, 1)  # a tie is neither
    assert "supervised_10" not in paired
    paper = [r for r in m["table_rows"] if "(paper)" in r["method"]]
    assert {r["method"]: r["value"] for r in paper} == {"ReMixMatch (paper)": 0.12, "FixMatch (paper)": 0.1333}
    with pytest.raises(InputError):
        summarise("fsdd", runs)


@pytest.mark.parametrize("method", ["supervised_10", "mixmatch", "fixmatch", "fixmatch_mixup"])
def test_ema_is_updated_evaluated_and_teaches_without_gradient(method):
    torch.manual_seed(0)
    hp = deep_merge(tiny_hp(), {"train": {"ema_decay": 0.5, "ema_teacher": True}})
    module = SemiSupervised(method, hp, n_classes=3, n_mels=8)
    module.set_data(torch.randn(6, 8, 16), torch.tensor([0, 1, 2, 0, 1, 2]), torch.randn(20, 8, 16), torch.ones(8))
    opt = module.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt  # with train.lr_schedule: cosine
    assert {id(p) for g in opt.param_groups for p in g["params"]} == {id(p) for p in module.model.parameters()}
    for step in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = module.training_step(step, step)
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in module.ema.parameters())  # the teacher gets no gradient
        opt.step()
        module.on_train_batch_end(None, None, step)
    w_model = next(module.model.parameters())
    w_ema = next(module.ema.module.parameters())
    assert not torch.allclose(w_model, w_ema)  # an average of three different weight states, not a copy
    x = torch.randn(5, 8, 16)
    module.eval()
    torch.testing.assert_close(module.evaluate(x), module.ema(x))
    assert not torch.allclose(module.evaluate(x), module(x))
    plain = SemiSupervised(method, deep_merge(hp, {"train": {"ema_decay": 0.0}}), n_classes=3, n_mels=8)
    assert plain.ema is None and not plain.ema_teacher
    plain.eval()
    torch.testing.assert_close(plain.evaluate(x), plain(x))


def test_cosine_learning_rate_schedule_and_constant():
    hp = deep_merge(tiny_hp(), {"train": {"lr": 0.01, "steps": 8, "lr_schedule": "cosine"}})
    conf = SemiSupervised("supervised_10", hp, n_classes=3, n_mels=8).configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    assert conf["lr_scheduler"]["interval"] == "step"
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.01) and lrs[4] == pytest.approx(0.01 * np.cos(7 * np.pi * 4 / 128))
    assert lrs[8] == pytest.approx(0.01 * np.cos(7 * np.pi / 16)) and all(a > b for a, b in zip(lrs, lrs[1:]))
    const = SemiSupervised("supervised_10", deep_merge(hp, {"train": {"lr_schedule": "constant"}}), 3, 8)
    assert isinstance(const.configure_optimizers(), torch.optim.Adam)


@pytest.mark.parametrize("method,n_clips", [("supervised_10", 6), ("fixmatch", 26)])
def test_precise_bn_recomputes_statistics_on_the_training_clips(method, n_clips):
    torch.manual_seed(0)
    hp = deep_merge(tiny_hp(), {"train": {"precise_bn": True, "ema_decay": 0.0}})
    module = SemiSupervised(method, hp, n_classes=3, n_mels=8)
    x_lab, x_unl = torch.randn(6, 8, 16) + 2.0, torch.randn(20, 8, 16) - 1.0
    module.set_data(x_lab, torch.tensor([0, 1, 2, 0, 1, 2]), x_unl, torch.ones(8))
    first_bn = module.model.features[0]
    assert first_bn.running_mean.item() == 0.0
    clips = x_lab if method.startswith("supervised") else torch.cat([x_lab, x_unl])
    assert len(clips) == n_clips
    before = module.predict_labels(torch.randn(4, 8, 16))
    assert first_bn.running_mean.item() == pytest.approx(clips.mean().item(), abs=1e-5)  # one batch: exact mean
    assert first_bn.running_var.item() == pytest.approx(clips.var().item(), rel=1e-3)
    assert before.shape == (4,) and not module.training
    off = SemiSupervised(method, deep_merge(hp, {"train": {"precise_bn": False}}), n_classes=3, n_mels=8)
    off.set_data(x_lab, torch.tensor([0, 1, 2, 0, 1, 2]), x_unl, torch.ones(8))
    off.predict_labels(torch.randn(4, 8, 16))
    assert off.model.features[0].running_mean.item() == 0.0


@pytest.mark.parametrize("method", ["mixmatch", "fixmatch", "fixmatch_mixup"])
def test_distribution_alignment_tracks_the_model_mean_and_uses_the_labelled_prior(method):
    torch.manual_seed(0)
    section = "mixmatch" if method == "mixmatch" else "fixmatch"
    module = SemiSupervised(method, deep_merge(tiny_hp(), {section: {"dist_align": True}}), n_classes=3, n_mels=8)
    module.set_data(torch.randn(6, 8, 16), torch.tensor([0, 0, 0, 0, 1, 2]), torch.randn(20, 8, 16), torch.ones(8))
    torch.testing.assert_close(module.label_prior, torch.tensor([4 / 6, 1 / 6, 1 / 6]))
    start = module.p_model.clone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = module.training_step(0, 0)
    assert torch.isfinite(loss) and not torch.allclose(module.p_model, start)  # updated from the weak views
    torch.testing.assert_close(module.p_model.sum(), torch.tensor(1.0))
    off = SemiSupervised(method, tiny_hp(), n_classes=3, n_mels=8)
    off.set_data(torch.randn(6, 8, 16), torch.tensor([0, 0, 0, 0, 1, 2]), torch.randn(20, 8, 16), torch.ones(8))
    probs = torch.softmax(torch.randn(4, 3), 1)
    torch.testing.assert_close(off.align(probs), probs)  # off: unchanged, running mean untouched
    torch.testing.assert_close(off.p_model, torch.full((3,), 1 / 3))


def test_fixmatch_mixup_with_labelled_partners_trains_on_their_true_labels():
    torch.manual_seed(0)
    hp = deep_merge(tiny_hp(), {"fixmatch": {"mixup_partner": "labelled", "threshold": 1.0}})  # no pseudo-label
    module = SemiSupervised("fixmatch_mixup", hp, n_classes=3, n_mels=8)
    module.set_data(torch.randn(6, 8, 16), torch.tensor([0, 1, 2, 0, 1, 2]), torch.randn(20, 8, 16), torch.ones(8))
    logs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = module.training_step(0, 0)
    assert torch.isfinite(loss) and loss.requires_grad
    # with every unlabelled row masked, the unlabelled loss still trains the labelled partners' share
    x, y = module.x_lab[:4], module.y_lab[:4]
    module._fixmatch_mixup(Augment(hp["augment"], module.gain_scale), x, torch.eye(3)[y], module.x_unl[:8], logs)
    assert logs["mask_rate"].item() == 0.0 and logs["loss_u"].item() > 0


def test_imix_finetune_without_pretraining_is_an_error(tmp_path, fsdd_features):
    hp = deep_merge(tiny_hp(), {"pretrain": {"steps": 0}})
    with pytest.raises(InputError, match="imix_finetune needs audio.semisup.pretrain.steps"):
        train_run(fsdd_features, "fsdd", "imix_finetune", 0, 0, hp, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "result.json").exists()


def test_selftrain_student_step_is_mixup_cross_entropy_on_both_labels():
    torch.manual_seed(0)
    hp = deep_merge(tiny_hp(), {"model": {"dropout": 0.0}})
    module = SemiSupervised("selftrain_mixup", hp, n_classes=3, n_mels=8)
    module.eval()  # BN running statistics: the two forward passes below see the same model
    aug = Augment(hp["augment"], module.gain_scale)
    x, y = torch.randn(6, 8, 16), torch.tensor([0, 1, 2, 0, 1, 2])
    torch.manual_seed(5)
    loss = module._selftrain_mixup(aug, x, y)
    torch.manual_seed(5)
    lam, perm = sample_lambda(6, hp["selftrain"]["mixup_alpha"]), sample_permutation(6)
    expected = mixup_cross_entropy(module(mix(aug.weak(x), lam, perm)), y, y[perm], lam)
    assert torch.allclose(loss, expected) and not torch.allclose(lam, torch.ones(6))


def test_selftrain_teacher_is_supervised_10_and_the_student_learns_its_balanced_pseudo_labels(tmp_path, fsdd_features,
                                                                                             monkeypatch):
    hp = deep_merge(tiny_hp(), {"selftrain": {"fraction": 0.5, "steps": 6}})
    calls = []
    real_set_data = SemiSupervised.set_data

    def spy(self, x_lab, y_lab, x_unl, gain_scale):
        calls.append((self.method, x_lab, y_lab, x_unl))
        real_set_data(self, x_lab, y_lab, x_unl, gain_scale)

    monkeypatch.setattr(SemiSupervised, "set_data", spy)
    sup = train_run(fsdd_features, "fsdd", "supervised_10", 0, 0, hp, tmp_path / "sup", progress=False)
    st = train_run(fsdd_features, "fsdd", "selftrain_mixup", 0, 0, hp, tmp_path / "st", progress=False)
    assert st["teacher_test_error"] == sup["test_error"] and st["teacher_val_error"] == sup["val_error"]
    assert sup["steps"] == 4 and st["steps"] == 6  # the teacher trains as supervised_10, the student selftrain.steps
    (_, sup_x, sup_y, _), (t_method, t_x, t_y, t_unl), (s_method, s_x, s_y, s_unl) = calls
    assert t_method == "supervised_10" and torch.equal(t_x, sup_x) and torch.equal(t_y, sup_y)
    n_lab, n_unl, k = len(t_x), len(t_unl), round(0.5 * len(t_unl) / 10)
    assert s_method == "selftrain_mixup" and st["n_pseudo"] == len(s_x) - n_lab > 0
    assert torch.equal(s_x[:n_lab], t_x) and torch.equal(s_y[:n_lab], t_y)  # the labelled clips keep their labels
    assert int(torch.bincount(s_y[n_lab:], minlength=10).max()) <= k  # at most k per predicted class
    assert len(s_unl) == n_unl - st["n_pseudo"]  # the selected clips leave the unlabelled pool
    pseudo_rows = [int(torch.nonzero((t_unl == row).all(dim=2).all(dim=1)).flatten()[0]) for row in s_x[n_lab:]]
    assert len(set(pseudo_rows)) == st["n_pseudo"]  # distinct unlabelled clips
    assert (tmp_path / "st" / "teacher" / "checkpoints" / "last.ckpt").is_file()
    teacher = SemiSupervised.load_from_checkpoint(tmp_path / "st" / "teacher" / "checkpoints" / "last.ckpt")
    real_set_data(teacher, t_x, t_y, t_unl, torch.ones(t_x.shape[1]))
    assert torch.equal(teacher.predict_labels(s_x[n_lab:]), s_y[n_lab:])  # the teacher's own labels
    assert 0 <= st["pseudo_label_accuracy"] <= 1 and st["teacher_wall_s"] > 0
