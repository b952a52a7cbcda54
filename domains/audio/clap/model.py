"""CLAP model: a small log-mel CNN audio encoder, the text tower, a learnable temperature, and the losses.

Audio encoder: per-mel-bin batch norm, four conv blocks (3x3 conv, batch norm, ReLU, 2x2 average pooling), mean
over frequency, then two summaries of the frame sequence: mean+max over time (what sounds are there) and the
final states of a bidirectional GRU over the frames in order (when they are there). Global pooling alone would
make "A then B" and "B then A" identical inputs to the projection, so temporal order could not be learned.

Loss: the symmetric CLIP loss (:func:`ssl_core.losses.info_nce` with ``symmetric``-style averaging of both
directions) with a learnable temperature (``logit_scale = log(1 / tau)``, clamped at 100 as in CLIP). Items of a
batch whose captions say the same thing (content labels) are positives of each other. Stage B adds the reversed
captions as extra negative keys of the audio->text direction (hard negatives). Mixup (option): two clips mixed
with ``lam ~ Beta(alpha, alpha)``; the mixed clip's target puts ``lam`` on its own caption and ``1 - lam`` on
its partner's (:func:`ssl_core.mixup.mix`, soft-target cross-entropy).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from domains.audio.clap.text import TextTower
from domains.audio.data.features import LogMelConfig
from ssl_core.errors import InputError
from ssl_core.losses import info_nce, soft_target_cross_entropy

__all__ = ["AudioEncoder", "ClapModel", "clap_loss", "mixup_clap_loss", "load_audio_checkpoint", "mel_config",
           "load_model"]


class AudioEncoder(nn.Module):
    """Log-mel ``[B, n_mels, frames]`` -> ``[B, embed_dim]`` (see the module docstring)."""

    def __init__(self, n_mels: int, channels: list[int], embed_dim: int, temporal_hidden: int) -> None:
        super().__init__()
        self.bn0 = nn.BatchNorm1d(n_mels)
        blocks: list[nn.Module] = []
        cin = 1
        for cout in channels:
            blocks += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                       nn.AvgPool2d(2)]
            cin = cout
        self.conv = nn.Sequential(*blocks)
        self.temporal_hidden = temporal_hidden
        width = 2 * cin
        if temporal_hidden > 0:
            self.gru = nn.GRU(cin, temporal_hidden, batch_first=True, bidirectional=True)
            width += 2 * temporal_hidden
        self.proj = nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True), nn.Linear(width, embed_dim))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.bn0(mel).unsqueeze(1)  # [B, 1, mels, frames]
        x = self.conv(x).mean(dim=2)  # [B, C, frames']
        parts = [x.mean(dim=2), x.amax(dim=2)]
        if self.temporal_hidden > 0:
            _, h = self.gru(x.transpose(1, 2))
            parts += [h[0], h[1]]
        return self.proj(torch.cat(parts, dim=-1))


class ClapModel(nn.Module):
    """Audio encoder + text tower + learnable temperature."""

    def __init__(self, n_mels: int, model: dict, text: dict, in_dim: int = 384, vocab_size: int = 30522) -> None:
        super().__init__()
        self.audio = AudioEncoder(n_mels, list(model["channels"]), model["embed_dim"], model["temporal_hidden"])
        self.text = TextTower(text["encoder"], model["embed_dim"], text["hidden"], in_dim, vocab_size,
                              order_branch=text["order_branch"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / model["temperature_init"])))

    def temperature(self) -> torch.Tensor:
        return torch.exp(-self.logit_scale.clamp(max=math.log(100.0)))


def load_audio_checkpoint(model: ClapModel, path: str | Path) -> None:
    """Initialise the audio encoder from a local checkpoint: a ``state_dict`` of :class:`AudioEncoder`, or a
    model file of this pipeline (``{"state_dict": ClapModel state}``). Never downloads anything."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: audio checkpoint not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise InputError(f"{path}: not a torch checkpoint ({exc.__class__.__name__})") from None
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict):
        raise InputError(f"{path}: no state_dict in the checkpoint")
    if any(k.startswith("audio.") for k in state):
        state = {k[len("audio."):]: v for k, v in state.items() if k.startswith("audio.")}
    try:
        model.audio.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"{path}: does not fit the audio encoder ({str(exc).splitlines()[0]})") from None


def clap_loss(za: torch.Tensor, zt: torch.Tensor, labels: torch.Tensor, temperature: torch.Tensor,
              zt_neg: torch.Tensor | None = None, neg_labels: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric CLIP loss; items with equal ``labels`` are positives. ``zt_neg`` (with ``neg_labels``): extra
    caption keys for the audio->text direction only (stage B's reversed captions, the hard negatives)."""
    keys, key_labels = zt, labels
    if zt_neg is not None and zt_neg.shape[0] > 0:
        keys, key_labels = torch.cat([zt, zt_neg]), torch.cat([labels, neg_labels])
    a2t = info_nce(za, keys, temperature, labels=labels, key_labels=key_labels)
    t2a = info_nce(zt, za, temperature, labels=labels)
    return 0.5 * (a2t + t2a)


def _label_targets(query_labels: torch.Tensor, key_labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    pos = (query_labels[:, None] == key_labels[None, :]).to(dtype)
    return pos / pos.sum(1, keepdim=True)


def mixup_clap_loss(za_mixed: torch.Tensor, zt: torch.Tensor, labels: torch.Tensor, lam: torch.Tensor,
                    perm: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    """CLIP loss for mixed clips: the target of mixed clip ``i`` is ``lam_i`` on the captions of its own content
    and ``1 - lam_i`` on those of its partner ``perm[i]`` (both directions, row-normalised)."""
    logits = F.normalize(za_mixed, dim=-1) @ F.normalize(zt, dim=-1).T / temperature
    own = _label_targets(labels, labels, logits.dtype)
    lam = lam.to(logits.dtype)[:, None]
    targets = lam * own + (1 - lam) * own[perm]
    a2t = soft_target_cross_entropy(logits, targets)
    t2a = soft_target_cross_entropy(logits.T, targets.T / targets.T.sum(1, keepdim=True))
    return 0.5 * (a2t + t2a)


def mel_config(features: dict[str, Any]) -> LogMelConfig:
    """The shared log-mel settings from the ``audio.clap.features`` section."""
    return LogMelConfig(sample_rate=features["sample_rate"], n_fft=features["n_fft"],
                        hop_length=features["hop_length"], n_mels=features["n_mels"])


def load_model(path: Path) -> tuple[ClapModel, dict[str, Any], str]:
    """A ``model.pt`` of this stage: the model (eval mode), its config section and its stage name."""
    if not Path(path).is_file():
        raise InputError(f"{path}: model file not found (train the previous stage first)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        hp = blob["hparams"]
        model = ClapModel(hp["features"]["n_mels"], hp["model"], hp["text"], blob["in_dim"], blob["vocab_size"])
        model.load_state_dict(blob["state_dict"])
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a CLAP model file ({exc.__class__.__name__}: {exc})") from None
    return model.eval(), hp, blob["stage"]
