"""Zero-shot and temporal evaluation (ZSTE) of one CLAP stage on classes never seen in training.

    python -m domains.audio.clap.zeroshot --model results/audio/clap/stageB/model.pt --meta resources/audio/esc50/meta.csv \
        --captions results/audio/clap/captions.pt --out results/audio/clap/stageB/eval.json [--threads 1]

Measured on the *unseen* classes (all five folds; no clip or caption of them was trained on):

* ``zs_top1`` / ``zs_top5``: zero-shot classification; each class is the mean of its single-sound caption
  embeddings over the templates (prompt ensemble), scored by cosine (scikit-learn ``top_k_accuracy_score``).
  Chance: 1/K and 5/K for K unseen classes.
* ``a2t_r1`` / ``a2t_r5`` / ``t2a_r1`` / ``t2a_r5``: retrieval with one caption per audio item: every unordered
  pair of unseen classes gives one overlaid two-sound clip and its caption "{a} and {b}" (K(K-1)/2 items; chance
  R@1 = 2/(K(K-1))); mean over ``retrieval_draws`` draws of the clips.
* ``temporal_acc``: ``temporal_pairs`` held-out ordered pairs (loudest half of a clip of class a, then of class b,
  a != b): correct when the audio is closer to "a followed by b" than to "b followed by a" (templates averaged).
  Chance 0.5.
* ``reversed_caption_cosine``: mean cosine between the text embeddings of "a followed by b" and "b followed by a"
  over the unseen pairs (1.0: order invisible), and the same for the frozen MiniLM sentence vector alone.

The same classification and temporal scores on the seen classes' validation fold (``seen_val_*``: classes seen,
clips not) are reported beside them. Nothing here is used to choose anything.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix, top_k_accuracy_score

from domains.audio.clap.clips import ClipSet, class_split, load_clips
from domains.audio.clap.model import ClapModel, load_model, mel_config
from domains.audio.data.features import log_mel
from domains.audio.settings import CLAP_PARTS
from domains.audio.clap.temporal import TEMPLATES, concat_pair, loudest_window, normalise_rms, overlay_pair
from domains.audio.clap.text import CaptionTable
from ssl_core.atomic import write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.runtime import set_threads

__all__ = ["embed_audio", "embed_captions", "zero_shot", "retrieval", "temporal_order", "evaluate", "main"]


@torch.no_grad()
def embed_audio(model: ClapModel, waves: np.ndarray, hp: dict[str, Any], batch: int = 64) -> torch.Tensor:
    """L2-normalised audio embeddings of RMS-normalised waveforms (as in training)."""
    mel_cfg = mel_config(hp["features"])
    out = []
    for s in range(0, len(waves), batch):
        w = np.stack([normalise_rms(x) for x in waves[s:s + batch]])
        out.append(F.normalize(model.audio(log_mel(torch.from_numpy(w), mel_cfg)), dim=-1))
    return torch.cat(out)


@torch.no_grad()
def embed_captions(model: ClapModel, table: CaptionTable, rows: list[int]) -> torch.Tensor:
    """L2-normalised text embeddings of caption rows."""
    return F.normalize(model.text(table.rows(torch.tensor(rows))), dim=-1)


def _ensemble(model: ClapModel, table: CaptionTable, keys: list[list[tuple]]) -> torch.Tensor:
    """One embedding per entry of ``keys``: the renormalised mean over that entry's caption keys (templates)."""
    flat = [table.index[k] for group in keys for k in group]
    emb = embed_captions(model, table, flat)
    sizes = [len(g) for g in keys]
    means = torch.stack([chunk.mean(0) for chunk in torch.split(emb, sizes)])
    return F.normalize(means, dim=-1)


def zero_shot(model: ClapModel, table: CaptionTable, audio: torch.Tensor, targets: np.ndarray,
              classes: tuple[int, ...]) -> dict[str, Any]:
    """Top-1 / top-5 accuracy and the confusion matrix of zero-shot classification over ``classes``."""
    keys = [[("single", t, c, -1) for t in range(len(TEMPLATES["single"]))] for c in classes]
    scores = (audio @ _ensemble(model, table, keys).T).numpy()
    labels = list(classes)
    k5 = min(5, len(classes) - 1)
    pred = np.asarray(labels)[scores.argmax(1)]
    return {
        "top1": float(top_k_accuracy_score(targets, scores, k=1, labels=labels)),
        "top5": float(top_k_accuracy_score(targets, scores, k=k5, labels=labels)),
        "top5_k": k5,
        "chance_top1": 1.0 / len(classes), "chance_top5": k5 / len(classes),
        "classes": labels,
        "confusion": confusion_matrix(targets, pred, labels=labels).tolist(),
    }


def _pick(clips: ClipSet, c: int, rng: np.random.Generator) -> int:
    return int(rng.choice(np.flatnonzero(clips.targets == c)))


def retrieval(model: ClapModel, table: CaptionTable, clips: ClipSet, classes: tuple[int, ...], hp: dict[str, Any],
              draws: int, seed: int) -> dict[str, float]:
    """Recall@1/5 both ways on one overlaid clip per unordered class pair, caption "{a} and {b}" (templates
    averaged); mean over ``draws`` draws of the clips."""
    pairs = list(itertools.combinations(classes, 2))
    text = _ensemble(model, table, [[("set", t, a, b) for t in range(len(TEMPLATES["set"]))] for a, b in pairs])
    rng = np.random.default_rng(seed)
    n = len(pairs)
    idx = np.arange(n)
    k5 = min(5, n - 1)
    res = {"a2t_r1": [], "a2t_r5": [], "t2a_r1": [], "t2a_r5": []}
    for _ in range(draws):
        waves = np.stack([overlay_pair(clips.waves[_pick(clips, a, rng)], clips.waves[_pick(clips, b, rng)], 0.0)
                          for a, b in pairs])
        sim = (embed_audio(model, waves, hp) @ text.T).numpy()
        res["a2t_r1"].append(top_k_accuracy_score(idx, sim, k=1, labels=idx))
        res["a2t_r5"].append(top_k_accuracy_score(idx, sim, k=k5, labels=idx))
        res["t2a_r1"].append(top_k_accuracy_score(idx, sim.T, k=1, labels=idx))
        res["t2a_r5"].append(top_k_accuracy_score(idx, sim.T, k=k5, labels=idx))
    out = {k: float(np.mean(v)) for k, v in res.items()}
    out.update(retrieval_items=n, chance_r1=1.0 / n, chance_r5=k5 / n)
    return out


def temporal_order(model: ClapModel, table: CaptionTable, clips: ClipSet, classes: tuple[int, ...],
                   hp: dict[str, Any], n_pairs: int, seed: int) -> dict[str, float]:
    """Accuracy of choosing "a followed by b" over "b followed by a" for composed held-out pairs."""
    rng = np.random.default_rng(seed)
    seg = clips.waves.shape[1] // 2
    ordered = list(itertools.permutations(classes, 2))
    text = _ensemble(model, table, [[("seq", t, a, b) for t in range(len(TEMPLATES["seq"]))] for a, b in ordered])
    row = {p: i for i, p in enumerate(ordered)}
    chosen = [ordered[i] for i in rng.integers(len(ordered), size=n_pairs)]
    waves = []
    for a, b in chosen:
        ia, ib = _pick(clips, a, rng), _pick(clips, b, rng)
        wa, wb = clips.waves[ia], clips.waves[ib]
        waves.append(concat_pair(wa, wb, seg, loudest_window(wa, seg), loudest_window(wb, seg)))
    audio = embed_audio(model, np.stack(waves), hp)
    fwd = torch.stack([text[row[(a, b)]] for a, b in chosen])
    rev = torch.stack([text[row[(b, a)]] for a, b in chosen])
    margin = ((audio * fwd).sum(1) - (audio * rev).sum(1)).numpy()
    text_cos = float(np.mean([float(text[row[(a, b)]] @ text[row[(b, a)]]) for a, b in ordered]))
    pooled = F.normalize(table.pooled, dim=-1)
    frozen_cos = float(np.mean([float(pooled[table.index[("seq", t, a, b)]] @ pooled[table.index[("seq", t, b, a)]])
                                for a, b in ordered for t in range(len(TEMPLATES["seq"]))]))
    return {"temporal_acc": float(np.mean(margin > 0)), "temporal_pairs": n_pairs, "chance_temporal": 0.5,
            "reversed_caption_cosine": text_cos, "reversed_caption_cosine_frozen_minilm": frozen_cos}


def evaluate(model_path: Path, meta: Path, captions: Path, threads: int | None = None,
             eval_hp: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every metric of the module docstring for one model; ``eval_hp``: the ``audio.clap.eval`` section (default:
    config/config.yaml's; the model file holds only the settings its training read)."""
    set_threads(threads)
    model, hp, stage = load_model(model_path)
    table = CaptionTable.load(captions)
    sp, ev = hp["split"], eval_hp or resolve_section(("audio", "clap"), None, None)["eval"]
    split = class_split([int(t) for t in table.blob["names"]], sp["unseen_classes"], sp["seed"], sp["val_fold"],
                        sp["max_classes"])
    if split.to_json() != table.blob["split"]:
        raise InputError(f"{captions}: built for another class split than {model_path}")
    f = hp["features"]
    unseen, names = load_clips(meta, f["sample_rate"], f["clip_seconds"], split.unseen, None, ev["limit_per_class"],
                               min_samples=f["n_fft"])
    seen_val, _ = load_clips(meta, f["sample_rate"], f["clip_seconds"], split.seen, (split.val_fold,),
                             ev["limit_per_class"], min_samples=f["n_fft"])
    torch.manual_seed(ev["seed"])
    zs = zero_shot(model, table, embed_audio(model, unseen.waves, hp), unseen.targets, split.unseen)
    zs_seen = zero_shot(model, table, embed_audio(model, seen_val.waves, hp), seen_val.targets, split.seen)
    ret = retrieval(model, table, unseen, split.unseen, hp, ev["retrieval_draws"], ev["seed"])
    tmp = temporal_order(model, table, unseen, split.unseen, hp, ev["temporal_pairs"], ev["seed"])
    tmp_seen = temporal_order(model, table, seen_val, split.seen, hp, ev["temporal_pairs"], ev["seed"] + 1)
    return {
        "stage": stage, "unseen_classes": [names[c] for c in split.unseen], "unseen_clips": len(unseen),
        "seen_val_clips": len(seen_val), "skipped_short_clips": unseen.skipped + seen_val.skipped,
        "zs_top1": zs["top1"], "zs_top5": zs["top5"], "a2t_r1": ret["a2t_r1"], "t2a_r1": ret["t2a_r1"],
        "a2t_r5": ret["a2t_r5"], "t2a_r5": ret["t2a_r5"], "temporal_acc": tmp["temporal_acc"],
        "reversed_caption_cosine": tmp["reversed_caption_cosine"],
        "reversed_caption_cosine_frozen_minilm": tmp["reversed_caption_cosine_frozen_minilm"],
        "seen_val_top1": zs_seen["top1"], "seen_val_temporal_acc": tmp_seen["temporal_acc"],
        "chance": {"zs_top1": zs["chance_top1"], "zs_top5": zs["chance_top5"], "r1": ret["chance_r1"],
                   "r5": ret["chance_r5"], "temporal_acc": 0.5, "seen_val_top1": zs_seen["chance_top1"]},
        "retrieval_items": ret["retrieval_items"], "temporal_pairs": tmp["temporal_pairs"],
        "confusion": {"classes": [names[c] for c in zs["classes"]], "matrix": zs["confusion"]},
    }


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.clap.zeroshot", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, type=Path, help="model.pt of a CLAP stage")
    p.add_argument("--meta", required=True, type=Path, help="ESC-50 meta.csv or a user's clip table")
    p.add_argument("--captions", required=True, type=Path, help="caption table of python -m domains.audio.clap.text")
    p.add_argument("--out", required=True, type=Path, help="evaluation JSON")
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None, help="JSON override of the audio.clap section (its eval part is used)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    eval_hp = resolve_section(("audio", "clap"), args.config, args.hparams, parts=CLAP_PARTS["evaluate"])["eval"]
    result = evaluate(args.model, args.meta, args.captions, args.threads, eval_hp)
    write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k not in ("confusion", "unseen_classes")}))


if __name__ == "__main__":
    main()
