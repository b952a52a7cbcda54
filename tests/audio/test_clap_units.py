"""CLAP part A without data: TeminAL composition and captions, the text tower's order branch, the losses, the split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from domains.audio.clap.clips import class_split
from domains.audio.clap.model import AudioEncoder, ClapModel, clap_loss, load_audio_checkpoint, mixup_clap_loss
from domains.audio.clap.temporal import (
    TEMPLATES,
    Composer,
    caption_keys,
    concat_pair,
    content_label,
    kinds_for_batch,
    loudest_window,
    overlay_pair,
    render,
)
from domains.audio.clap.text import TextTower
from ssl_core.errors import InputError

MODEL = {"channels": [4, 8], "embed_dim": 16, "temporal_hidden": 8, "temperature_init": 0.07}
TEXT = {"encoder": "minilm", "hidden": 8, "order_branch": True}


def test_content_labels_set_is_unordered_seq_is_ordered():
    assert content_label("set", 3, 7) == content_label("set", 7, 3)
    assert content_label("seq", 3, 7) != content_label("seq", 7, 3)
    labels = {content_label("single", a) for a in range(50)}
    labels |= {content_label(k, a, b) for k in ("set", "seq") for a in range(50) for b in range(50) if a != b}
    assert len(labels) == 50 + 50 * 49 // 2 + 50 * 49  # no collisions between kinds


def test_caption_keys_cover_both_orders_and_render():
    keys = caption_keys((1, 2, 3))
    assert len(keys) == 3 * len(TEMPLATES["single"]) + 6 * (len(TEMPLATES["set"]) + len(TEMPLATES["seq"]))
    names = {1: "dog", 2: "rain", 3: "siren"}
    assert render("seq", 0, names, 1, 2) == "dog followed by rain"
    assert render("seq", 0, names, 2, 1) == "rain followed by dog"


def test_loudest_window_finds_the_event():
    wave = np.zeros(16000, dtype=np.float32)
    wave[11000:12000] = 1.0
    start = loudest_window(wave, 4000, hop=100)
    assert start <= 11000 and start + 4000 >= 12000


def test_concat_puts_first_sound_first_and_overlay_keeps_both():
    rng = np.random.default_rng(0)
    a = np.zeros(8000, dtype=np.float32)
    a[1000:3000] = rng.normal(size=2000)
    b = rng.normal(size=8000).astype(np.float32) * 0.01
    out = concat_pair(a, b, 4000, loudest_window(a, 4000), loudest_window(b, 4000))
    assert out.shape == (8000,)
    assert np.allclose(out[:4000], a[loudest_window(a, 4000):][:4000] * (out[:4000].std() / a[:4000].std()), atol=1e-2) \
        or np.corrcoef(out[:4000], a[loudest_window(a, 4000):][:4000])[0, 1] > 0.99
    assert np.corrcoef(out[4000:], b[loudest_window(b, 4000):][:4000])[0, 1] > 0.99
    mixed = overlay_pair(a, b, 0.0)
    assert np.corrcoef(mixed, a)[0, 1] > 0.3 and np.corrcoef(mixed, b)[0, 1] > 0.3


def test_composer_seq_items_carry_their_reversed_caption():
    rng = np.random.default_rng(1)
    waves = rng.normal(size=(6, 1600)).astype(np.float32)
    targets = np.array([0, 0, 1, 1, 2, 2])
    keys = caption_keys((0, 1, 2))
    index = {k: i for i, k in enumerate(keys)}
    comp = Composer(waves, targets, index, seed=0)
    batch = comp.batch(["single", "set", "seq", "seq"])
    assert batch.waves.shape == (4, 1600) and np.isfinite(batch.waves).all()
    assert (batch.neg_captions[:2] == -1).all() and (batch.neg_captions[2:] >= 0).all()
    for j in (2, 3):
        kind, t, a, b = keys[batch.captions[j]]
        assert keys[batch.neg_captions[j]] == ("seq", t, b, a)
        assert batch.labels[j] == content_label("seq", a, b) and batch.neg_labels[j] == content_label("seq", b, a)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.floats(0, 1), st.floats(0, 1), st.floats(0.01, 1))
def test_kinds_for_batch_has_batch_size_items_of_requested_kinds(n, single, set_, seq):
    kinds = kinds_for_batch(n, {"single": single, "set": set_, "seq": seq}, np.random.default_rng(0))
    assert len(kinds) == n
    assert all(k in ("single", "set", "seq") for k in kinds)
    total = single + set_ + seq
    for kind, share in (("single", single), ("set", set_), ("seq", seq)):
        assert abs(kinds.count(kind) - n * share / total) < 1  # largest-remainder rounding


def test_class_split_is_seeded_disjoint_and_checked():
    a = class_split(list(range(50)), 10, 0, 5)
    assert a == class_split(list(range(50)), 10, 0, 5)
    assert len(a.unseen) == 10 and len(a.seen) == 40 and not set(a.seen) & set(a.unseen)
    assert class_split(list(range(50)), 10, 1, 5).unseen != a.unseen
    small = class_split(list(range(50)), 2, 0, 5, max_classes=6)
    assert len(small.seen) + len(small.unseen) == 6
    with pytest.raises(InputError, match="unseen_classes"):
        class_split(list(range(5)), 5, 0, 5)


def _text_batch(states, pooled):
    return {"states": states, "pooled": pooled, "lengths": torch.full((states.shape[0],), states.shape[1]),
            "mask": torch.ones(states.shape[:2], dtype=torch.bool)}


def test_order_branch_tells_reversed_token_order_apart_and_starts_at_zero():
    torch.manual_seed(0)
    states = torch.randn(1, 5, 12)
    rev = states.flip(1)  # same tokens, reversed order; same pooled sentence vector
    pooled = torch.randn(1, 12)
    tower = TextTower("minilm", 6, 8, in_dim=12)
    a, b = tower(_text_batch(states, pooled)), tower(_text_batch(rev, pooled))
    assert torch.allclose(a, b)  # order branch initialised at zero: the frozen-sentence model
    torch.nn.init.normal_(tower.order.weight)
    a, b = tower(_text_batch(states, pooled)), tower(_text_batch(rev, pooled))
    assert not torch.allclose(a, b, atol=1e-4)
    blind = TextTower("minilm", 6, 8, in_dim=12, order_branch=False)
    assert torch.allclose(blind(_text_batch(states, pooled)), blind(_text_batch(rev, pooled)))


def test_audio_encoder_sees_temporal_order_only_with_the_gru():
    torch.manual_seed(0)
    a, b, z = torch.randn(2, 16, 16), torch.randn(2, 16, 16), torch.zeros(2, 16, 16)
    mel = torch.cat([z, a, z, b, z], dim=2)  # silence between and around: the conv maps just translate
    swapped = torch.cat([z, b, z, a, z], dim=2)
    for hidden, differs in ((8, True), (0, False)):
        enc = AudioEncoder(16, [4, 8], 6, hidden).eval()
        a, b = enc(mel), enc(swapped)
        assert (not torch.allclose(a, b, atol=1e-5)) == differs


def _loop_clap(za, zt, labels, t, zneg=None, neg_labels=None):
    """Slow reference: symmetric CLIP with label positives; extra negative keys in the audio->text direction."""
    za, zt = F.normalize(za, dim=-1), F.normalize(zt, dim=-1)
    keys = zt if zneg is None else torch.cat([zt, F.normalize(zneg, dim=-1)])
    klab = labels if zneg is None else torch.cat([labels, neg_labels])
    a2t, t2a = 0.0, 0.0
    n = za.shape[0]
    for i in range(n):
        den = torch.logsumexp(torch.stack([za[i] @ keys[j] / t for j in range(len(keys))]), 0)
        pos = [j for j in range(len(keys)) if klab[j] == labels[i]]
        a2t += -sum(za[i] @ keys[j] / t - den for j in pos) / len(pos)
        den = torch.logsumexp(torch.stack([zt[i] @ za[j] / t for j in range(n)]), 0)
        pos = [j for j in range(n) if labels[j] == labels[i]]
        t2a += -sum(zt[i] @ za[j] / t - den for j in pos) / len(pos)
    return 0.5 * (a2t + t2a) / n


def test_clap_loss_matches_loop_reference_with_hard_negatives():
    torch.manual_seed(0)
    za, zt, zneg = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, 5, dtype=torch.float64), torch.randn(
        2, 5, dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 2, 3, 4])
    neg_labels = torch.tensor([9, 1])  # the second negative says the same as items 1 and 2: a positive for them
    t = torch.tensor(0.1, dtype=torch.float64)
    assert torch.allclose(clap_loss(za, zt, labels, t), _loop_clap(za, zt, labels, t))
    assert torch.allclose(clap_loss(za, zt, labels, t, zneg, neg_labels), _loop_clap(za, zt, labels, t, zneg, neg_labels))


def test_reversed_caption_negative_raises_loss_when_close_to_the_positive():
    torch.manual_seed(0)
    za, zt = torch.randn(4, 8), torch.randn(4, 8)
    labels = torch.arange(4)
    t = torch.tensor(0.1)
    near = zt + 0.01 * torch.randn(4, 8)  # reversed captions embed almost like the true ones (frozen MiniLM)
    assert clap_loss(za, zt, labels, t, near, labels + 100) > clap_loss(za, zt, labels, t) + 0.1


def test_mixup_loss_reduces_to_clip_loss_without_mixing_and_is_differentiable_in_temperature():
    torch.manual_seed(0)
    za, zt = torch.randn(5, 8), torch.randn(5, 8)
    labels = torch.arange(5)
    scale = torch.tensor(2.0, requires_grad=True)
    t = torch.exp(-scale)
    loss = mixup_clap_loss(za, zt, labels, torch.ones(5), torch.randperm(5), t)
    assert torch.allclose(loss, clap_loss(za, zt, labels, t))
    loss.backward()
    assert scale.grad is not None and scale.grad != 0


def test_audio_checkpoint_loads_and_rejects_foreign_files(tmp_path):
    model = ClapModel(16, MODEL, TEXT, in_dim=12)
    torch.save(model.audio.state_dict(), tmp_path / "enc.pt")
    other = ClapModel(16, MODEL, TEXT, in_dim=12)
    load_audio_checkpoint(other, tmp_path / "enc.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.audio.state_dict().values(), other.audio.state_dict().values()))
    wrong = ClapModel(16, {**MODEL, "channels": [4, 4]}, TEXT, in_dim=12)
    with pytest.raises(InputError, match="enc.pt: does not fit"):
        load_audio_checkpoint(wrong, tmp_path / "enc.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt: not a torch checkpoint"):
        load_audio_checkpoint(other, tmp_path / "junk.pt")
    with pytest.raises(InputError, match="missing.pt: audio checkpoint not found"):
        load_audio_checkpoint(other, tmp_path / "missing.pt")
