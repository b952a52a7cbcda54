"""Log-mel features and SpecAugment masking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio.transforms as T

from domains.audio.data.features import LogMelConfig, log_mel, n_frames, spec_augment


def _waves(b: int = 3, n: int = 16000) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(n) / 16000
    tones = torch.stack([torch.sin(2 * torch.pi * f * t) for f in (220.0, 1000.0, 4000.0)][:b])
    return tones * torch.tensor([1.0, 0.1, 0.01][:b])[:, None] + 1e-3 * torch.randn(b, n, generator=g)


def test_log_mel_shapes_and_agreement_with_torchaudio():
    cfg = LogMelConfig()
    w = _waves()
    out = log_mel(w, cfg)
    assert out.shape == (3, 64, n_frames(16000, cfg))
    ref = T.AmplitudeToDB("power", top_db=80.0)(T.MelSpectrogram(16000, n_fft=1024, hop_length=320, n_mels=64)(w[1]))
    torch.testing.assert_close(out[1], ref)
    torch.testing.assert_close(log_mel(w[2], cfg), out[2])  # per-clip top_db: batching does not change a clip


def test_top_db_is_per_clip_and_energy_lands_in_the_right_band():
    cfg = LogMelConfig(top_db=40.0)
    out = log_mel(_waves(), cfg)
    for i in range(3):
        assert out[i].max() - out[i].min() <= 40.0 + 1e-3
    peaks = out.mean(dim=2).argmax(dim=1)
    assert peaks[0] < peaks[1] < peaks[2]  # 220 Hz < 1 kHz < 4 kHz


def test_config_validation():
    with pytest.raises(ValueError):
        LogMelConfig(sample_rate=8000, f_max=5000)
    with pytest.raises(ValueError):
        LogMelConfig(n_mels=0)
    assert LogMelConfig.from_dict({"sample_rate": 8000, "clip_seconds": 1.0}).sample_rate == 8000
    with pytest.raises(ValueError):
        log_mel(torch.zeros(1, 1, 100), LogMelConfig())


def test_spec_augment_masks_reproducibly_without_touching_global_rng():
    mels = torch.randn(4, 32, 50)
    torch.manual_seed(5)
    state = torch.get_rng_state()
    a = spec_augment(mels, 10, 8, torch.Generator().manual_seed(1), n_masks=2)
    assert torch.equal(torch.get_rng_state(), state)
    b = spec_augment(mels, 10, 8, torch.Generator().manual_seed(1), n_masks=2)
    c = spec_augment(mels, 10, 8, torch.Generator().manual_seed(2), n_masks=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    changed = a != mels
    assert changed.any() and not changed.all()
    # masked cells hold each example's mean, so a mask is not a block of silence
    for i in range(4):
        vals = a[i][changed[i]]
        if vals.numel():
            torch.testing.assert_close(vals, torch.full_like(vals, mels[i].mean().item()), atol=1e-5, rtol=0)
    assert spec_augment(mels.unsqueeze(1), 5, 5, torch.Generator().manual_seed(1)).shape == (4, 1, 32, 50)
    assert torch.equal(spec_augment(mels, 0, 0), mels)


def test_spec_augment_masks_whole_rows_and_columns():
    mels = torch.arange(20 * 30, dtype=torch.float32).reshape(1, 20, 30) + 1000
    out = spec_augment(mels, 0, 6, torch.Generator().manual_seed(3))
    rows = (out != mels).all(dim=2)[0]
    assert torch.equal((out != mels)[0].any(dim=1), rows)  # frequency masks cover whole mel rows
    assert np.all(np.diff(np.flatnonzero(rows.numpy())) == 1) if rows.any() else True
