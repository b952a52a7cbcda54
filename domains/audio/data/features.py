"""Log-mel features and SpecAugment masking, with torchaudio's transforms.

``log_mel`` is ``torchaudio.transforms.MelSpectrogram`` (power 2) followed by ``AmplitudeToDB`` (power scale,
``top_db`` clipping per clip); the transforms are built once per config and cached. ``spec_augment`` applies
``TimeMasking`` and ``FrequencyMasking`` (masks drawn per example, ``iid_masks``) from an explicit generator, so
augmentation is reproducible and independent of other random draws.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import torch
import torchaudio.transforms as T

__all__ = ["LogMelConfig", "log_mel", "spec_augment", "n_frames"]


@dataclass(frozen=True)
class LogMelConfig:
    """Log-mel parameters. Defaults: 16 kHz, 64 ms windows (1024), 20 ms hop (320), 64 mel bands, 0-8 kHz, 80 dB.

    ``f_max=None`` means the Nyquist frequency. ``top_db`` clips each clip's spectrogram to ``top_db`` below its
    maximum (``None``: no clipping).
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 320
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float | None = None
    top_db: float | None = 80.0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError(f"log-mel sizes must be positive: {self}")
        nyquist = self.sample_rate / 2
        f_max = nyquist if self.f_max is None else self.f_max
        if not 0 <= self.f_min < f_max <= nyquist:
            raise ValueError(f"need 0 <= f_min < f_max <= sample_rate/2, got f_min={self.f_min}, f_max={f_max}")

    @classmethod
    def from_dict(cls, d: dict) -> LogMelConfig:
        """Build from a config mapping, ignoring keys that are not log-mel parameters (e.g. clip_seconds)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def _transforms(cfg: LogMelConfig) -> tuple[T.MelSpectrogram, T.AmplitudeToDB]:
    mel = T.MelSpectrogram(sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                           n_mels=cfg.n_mels, f_min=cfg.f_min, f_max=cfg.f_max, power=2.0)
    to_db = T.AmplitudeToDB(stype="power", top_db=cfg.top_db)
    return mel, to_db


def n_frames(n_samples: int, cfg: LogMelConfig) -> int:
    """Frames ``log_mel`` returns for ``n_samples`` samples (centred STFT)."""
    return n_samples // cfg.hop_length + 1


def log_mel(waves: torch.Tensor, cfg: LogMelConfig) -> torch.Tensor:
    """Log-mel spectrograms in dB: ``[B, T] -> [B, n_mels, frames]`` (or ``[T] -> [n_mels, frames]``).

    ``top_db`` clipping is per clip (torchaudio clips per spectrogram when given a batch of 3-D input; we add the
    channel axis so the maximum is taken per example, not over the batch).
    """
    if waves.ndim not in (1, 2):
        raise ValueError(f"waves must be [T] or [B, T], got shape {tuple(waves.shape)}")
    single = waves.ndim == 1
    x = waves.unsqueeze(0) if single else waves
    mel, to_db = _transforms(cfg)
    spec = mel(x.float())  # [B, n_mels, frames]
    db = to_db(spec.unsqueeze(1)).squeeze(1)  # [B, 1, M, F]: top_db relative to each example's maximum
    return db[0] if single else db


def spec_augment(
    mels: torch.Tensor,
    time_mask: int,
    freq_mask: int,
    generator: torch.Generator | None = None,
    *,
    n_masks: int = 1,
    mask_value: float | None = None,
) -> torch.Tensor:
    """SpecAugment masking of ``[B, n_mels, frames]`` (or ``[B, 1, n_mels, frames]``) log-mels.

    ``n_masks`` time masks of width ~U[0, time_mask] and as many frequency masks of width ~U[0, freq_mask], drawn
    independently per example (torchaudio ``iid_masks``). Masked cells get ``mask_value`` (default: each
    example's mean, so a mask does not look like silence at -100 dB). torchaudio draws its mask positions from the
    global generator; with ``generator`` they are drawn under a fork of the RNG seeded from it, so the call is
    reproducible and leaves the global stream untouched.
    """
    if mels.ndim not in (3, 4):
        raise ValueError(f"mels must be [B, M, F] or [B, C, M, F], got shape {tuple(mels.shape)}")
    if time_mask < 0 or freq_mask < 0 or n_masks < 0:
        raise ValueError("mask widths and counts must be >= 0")
    x = mels if mels.ndim == 4 else mels.unsqueeze(1)
    fill = x.mean(dim=(1, 2, 3), keepdim=True) if mask_value is None else torch.full_like(x[:, :1, :1, :1], mask_value)
    # torchaudio fills a mask with one scalar: mask a tensor of ones and fill the zeros with each example's own value.
    keep = torch.ones_like(x)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item()) if generator is not None else None
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        for _ in range(n_masks):
            if time_mask > 0:
                keep = T.TimeMasking(time_mask, iid_masks=True)(keep, 0.0)
            if freq_mask > 0:
                keep = T.FrequencyMasking(freq_mask, iid_masks=True)(keep, 0.0)
    out = torch.where(keep > 0, x, fill.expand_as(x))
    return out if mels.ndim == 4 else out.squeeze(1)
