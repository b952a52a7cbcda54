"""TeminAL clip composition and caption templates (Sridhar et al., 2024, "Enhancing Temporal Understanding in
CLAP using Temporal-Multimodal Curriculum Learning", arXiv 2408.13689: stage A multi-sound, stage B ordered pairs).

Three kinds of training items, each a fixed-length waveform with a caption naming what it contains:

* ``single``: one clip, "the sound of {a}" (plain CLAP training; also replayed in stages A and B so that the model
  keeps its single-sound zero-shot ability);
* ``set`` (stage A): two sounds, either concatenated (the loudest half of each clip, one after the other) or
  overlaid (both whole clips, mixed at a random level difference), captioned without order ("{a} and {b}"):
  the model learns that a clip may hold several sounds and which ones;
* ``seq`` (stage B): the loudest half of clip A followed by the loudest half of clip B, "{a} followed by {b}";
  the caption with the two names swapped is the hard negative of the contrastive loss.

Every item carries an integer *content label* (what the caption says, whatever the template), so that two items
of a batch with the same content are positives of each other rather than false negatives.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = ["TEMPLATES", "content_label", "caption_keys", "render", "loudest_window", "normalise_rms",
           "concat_pair", "overlay_pair", "ItemBatch", "Composer", "kinds_for_batch"]

# Caption templates per kind; "{a}" / "{b}" are class names. Kept short: MiniLM embeds them in one pass each.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "single": ("the sound of {a}", "{a}", "a recording of {a}"),
    "set": ("{a} and {b}", "the sounds of {a} and {b}"),
    "seq": ("{a} followed by {b}", "{a} and then {b}"),
}


def content_label(kind: str, a: int, b: int = -1) -> int:
    """One integer per caption content: ``single`` a, unordered ``set`` {a, b}, ordered ``seq`` (a, b)."""
    if kind == "single":
        return a
    if kind == "set":
        lo, hi = min(a, b), max(a, b)
        return 10_000 + lo * 100 + hi
    if kind == "seq":
        return 20_000 + a * 100 + b
    raise ValueError(f"unknown caption kind {kind!r}")


def render(kind: str, template: int, names: dict[int, str], a: int, b: int = -1) -> str:
    """The caption text of one item (``set`` names its classes in the given order)."""
    text = TEMPLATES[kind][template]
    return text.format(a=names[a], b=names[b]) if b >= 0 else text.format(a=names[a])


def caption_keys(classes: tuple[int, ...]) -> list[tuple[str, int, int, int]]:
    """Every (kind, template, a, b) caption over ``classes``: singles, and both orders of every pair for ``set``
    (the names appear in either order) and ``seq``."""
    keys = [("single", t, a, -1) for a in classes for t in range(len(TEMPLATES["single"]))]
    for a, b in itertools.permutations(classes, 2):
        keys += [("set", t, a, b) for t in range(len(TEMPLATES["set"]))]
        keys += [("seq", t, a, b) for t in range(len(TEMPLATES["seq"]))]
    return keys


def loudest_window(wave: np.ndarray, n: int, hop: int = 800) -> int:
    """Start sample of the ``n``-sample window with the most energy (hop-sample grid): ESC-50 clips are often a
    short event padded with silence, so a half-clip segment must be taken where the sound is."""
    if len(wave) <= n:
        return 0
    c = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    starts = np.arange(0, len(wave) - n + 1, hop)
    return int(starts[np.argmax(c[starts + n] - c[starts])])


def normalise_rms(wave: np.ndarray, target: float = 0.05) -> np.ndarray:
    """Scale to a given RMS (silent input stays silent), so neither sound of a composition drowns the other."""
    rms = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)))
    return wave if rms < 1e-8 else (wave * (target / rms)).astype(np.float32)


def concat_pair(a: np.ndarray, b: np.ndarray, seg: int, start_a: int, start_b: int) -> np.ndarray:
    """``seg`` samples of ``a`` from ``start_a`` then ``seg`` of ``b`` from ``start_b`` (each RMS-normalised)."""
    return np.concatenate([normalise_rms(a[start_a:start_a + seg]), normalise_rms(b[start_b:start_b + seg])])


def overlay_pair(a: np.ndarray, b: np.ndarray, gain_db: float) -> np.ndarray:
    """``a + b`` with ``b`` ``gain_db`` louder (RMS) than ``a``, then RMS-normalised."""
    return normalise_rms(normalise_rms(a) + normalise_rms(b) * np.float32(10 ** (gain_db / 20)))


@dataclass
class ItemBatch:
    """Waveforms ``[B, T]`` with their caption row indices, content labels, and for ``seq`` items the caption row
    and label of the reversed caption (the hard negatives; ``-1`` rows for other kinds)."""

    waves: np.ndarray
    captions: np.ndarray
    labels: np.ndarray
    neg_captions: np.ndarray
    neg_labels: np.ndarray


class Composer:
    """Draws training items from clips of the given classes.

    Args:
        waves: ``[N, T]`` clips (all of length ``T``); ``targets``: their classes.
        caption_index: (kind, template, a, b) -> row of the caption table.
        seed: the generator of every random choice (clips, templates, level differences).
        overlay_fraction: share of ``set`` items that are overlaid rather than concatenated.
        max_gain_db: overlay level differences are uniform in [-max_gain_db, max_gain_db].
    """

    def __init__(self, waves: np.ndarray, targets: np.ndarray, caption_index: dict[tuple[str, int, int, int], int],
                 seed: int, overlay_fraction: float = 0.5, max_gain_db: float = 6.0) -> None:
        self.waves = waves
        self.targets = np.asarray(targets)
        self.classes = np.unique(self.targets)
        if len(self.classes) < 2:
            raise ValueError("composition needs clips of at least two classes")
        self.by_class = {int(c): np.flatnonzero(self.targets == c) for c in self.classes}
        self.caption_index = caption_index
        self.rng = np.random.default_rng(seed)
        self.overlay_fraction = overlay_fraction
        self.max_gain_db = max_gain_db
        self.length = waves.shape[1]
        self.seg = self.length // 2
        self._starts: dict[int, int] = {}

    def _start(self, i: int) -> int:
        if i not in self._starts:
            self._starts[i] = loudest_window(self.waves[i], self.seg)
        return self._starts[i]

    def _clip(self, c: int) -> int:
        return int(self.rng.choice(self.by_class[c]))

    def _two_classes(self) -> tuple[int, int]:
        a, b = self.rng.choice(self.classes, size=2, replace=False)
        return int(a), int(b)

    def item(self, kind: str) -> tuple[np.ndarray, int, int, int, int]:
        """One item: (waveform, caption row, content label, reversed caption row, reversed label)."""
        t = int(self.rng.integers(len(TEMPLATES[kind])))
        if kind == "single":
            i = int(self.rng.integers(len(self.targets)))
            a = int(self.targets[i])
            wave = normalise_rms(self.waves[i])
            return wave, self.caption_index[("single", t, a, -1)], content_label("single", a), -1, -1
        a, b = self._two_classes()
        ia, ib = self._clip(a), self._clip(b)
        if kind == "set":
            if self.rng.random() < self.overlay_fraction:
                gain = float(self.rng.uniform(-self.max_gain_db, self.max_gain_db))
                wave = overlay_pair(self.waves[ia], self.waves[ib], gain)
            else:
                wave = concat_pair(self.waves[ia], self.waves[ib], self.seg, self._start(ia), self._start(ib))
            # the caption names the two classes in a random order: the set caption carries no order
            x, y = (a, b) if self.rng.random() < 0.5 else (b, a)
            return wave, self.caption_index[("set", t, x, y)], content_label("set", a, b), -1, -1
        if kind == "seq":
            wave = concat_pair(self.waves[ia], self.waves[ib], self.seg, self._start(ia), self._start(ib))
            return (wave, self.caption_index[("seq", t, a, b)], content_label("seq", a, b),
                    self.caption_index[("seq", t, b, a)], content_label("seq", b, a))
        raise ValueError(f"unknown item kind {kind!r}")

    def batch(self, kinds: list[str]) -> ItemBatch:
        """One item per entry of ``kinds``; all waveforms have the clip length (pairs are two half-clips)."""
        waves = np.zeros((len(kinds), self.length), dtype=np.float32)
        cols = np.full((4, len(kinds)), -1, dtype=np.int64)
        for j, kind in enumerate(kinds):
            wave, *rest = self.item(kind)
            waves[j, : len(wave)] = wave[: self.length]
            cols[:, j] = rest
        return ItemBatch(waves, cols[0], cols[1], cols[2], cols[3])


def kinds_for_batch(batch_size: int, fractions: dict[str, float], rng: np.random.Generator) -> list[str]:
    """Item kinds of one batch in the given proportions (largest-remainder rounding), in random order."""
    names = [k for k, v in fractions.items() if v > 0]
    total = sum(fractions[k] for k in names)
    exact = {k: batch_size * fractions[k] / total for k in names}
    counts = {k: int(np.floor(exact[k])) for k in names}
    by_remainder = sorted(names, key=lambda k: (exact[k] - counts[k], fractions[k]), reverse=True)
    for k in by_remainder[: batch_size - sum(counts.values())]:
        counts[k] += 1
    kinds = [k for k in names for _ in range(counts[k])]
    rng.shuffle(kinds)
    return kinds
