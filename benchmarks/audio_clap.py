"""CLAP part A throughput: clip composition + log-mel (clips/s per item kind) and training step time per stage.

    python benchmarks/audio_clap.py --meta ../shared/data/audio/esc50/meta.csv [--steps 10] [--batch-size 48]
        [--threads 1] [--classes 10]

Uses real ESC-50 clips (``--classes`` classes, all their training-fold clips) and a caption table of those classes
(frozen MiniLM, encoded here once). The step time is forward + backward + AdamW update of the default model on one
batch of the stage's item mix (composition and log-mel timed separately), the median of ``--steps`` steps after
one warm-up step. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domains.audio.clap.clips import class_split, load_clips  # noqa: E402
from domains.audio.clap.model import ClapModel, clap_loss  # noqa: E402
from domains.audio.clap.train import STAGES, mel_config  # noqa: E402
from domains.audio.data.features import log_mel  # noqa: E402
from domains.audio.clap.temporal import Composer, kinds_for_batch  # noqa: E402
from domains.audio.clap.text import CaptionTable, build_caption_table  # noqa: E402
from ssl_core.config import resolve_section  # noqa: E402
from ssl_core.runtime import set_threads  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meta", required=True, type=Path)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=None, help="default: audio.clap.train.batch_size")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--classes", type=int, default=10, help="classes used (a seeded subset; 2 of them unseen)")
    args = p.parse_args()
    threads = set_threads(args.threads)
    hp = resolve_section(("audio", "clap"), None, None)
    bs = args.batch_size or hp["train"]["batch_size"]
    split_hp = {**hp["split"], "unseen_classes": 2, "max_classes": args.classes}
    t0 = time.perf_counter()
    table = CaptionTable(build_caption_table(args.meta, split_hp))
    caption_s = time.perf_counter() - t0
    split = class_split([int(t) for t in table.blob["names"]], 2, split_hp["seed"], split_hp["val_fold"], args.classes)
    f = hp["features"]
    t0 = time.perf_counter()
    clips, _ = load_clips(args.meta, f["sample_rate"], f["clip_seconds"], split.seen, (1, 2, 3, 4))
    load_s = time.perf_counter() - t0
    print(f"device: cpu, {threads} thread(s), torch {torch.__version__}; batch {bs}; "
          f"{len(clips)} clips of {len(split.seen)} classes")
    print(f"caption table: {len(table.captions)} captions in {caption_s:.1f} s "
          f"({len(table.captions) / caption_s:.0f}/s, includes loading MiniLM); "
          f"clip decoding: {len(clips) / load_s:.0f} clips/s\n")
    comp = Composer(clips.waves, clips.targets, table.index, seed=0)
    mel_cfg = mel_config(f)
    rng = np.random.default_rng(0)
    print("| item kind | compose clips/s | log-mel clips/s | compose + log-mel clips/s |")
    print("|---|---|---|---|")
    for kind in ("single", "set", "seq"):
        comp.batch([kind] * bs)  # warm the loudest-window cache like a long run does
        tc, tm = [], []
        for _ in range(max(3, args.steps // 2)):
            t = time.perf_counter()
            b = comp.batch([kind] * bs)
            tc.append(time.perf_counter() - t)
            t = time.perf_counter()
            log_mel(torch.from_numpy(b.waves), mel_cfg)
            tm.append(time.perf_counter() - t)
        c, m = statistics.median(tc), statistics.median(tm)
        print(f"| {kind} | {bs / c:.0f} | {bs / m:.0f} | {bs / (c + m):.0f} |")
    print("\n| stage | item mix (single/set/seq) | step ms (fwd+bwd+update) | data ms (compose+log-mel) | "
          "clips/s (training) |")
    print("|---|---|---|---|---|")
    for stage in STAGES:
        st = hp["train"]["stages"][stage]
        fractions = {k: st[k] for k in ("single", "set", "seq")}
        model = ClapModel(f["n_mels"], hp["model"], hp["text"], int(table.blob["hidden"]), int(table.blob["vocab_size"]))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        steps, datas = [], []
        for i in range(args.steps + 1):
            t = time.perf_counter()
            b = comp.batch(kinds_for_batch(bs, fractions, rng))
            mel = log_mel(torch.from_numpy(b.waves), mel_cfg)
            d = time.perf_counter() - t
            t = time.perf_counter()
            za = model.audio(mel)
            zt = model.text(table.rows(torch.from_numpy(b.captions)))
            has = b.neg_captions >= 0
            zneg = model.text(table.rows(torch.from_numpy(b.neg_captions[has]))) if has.any() else None
            loss = clap_loss(za, zt, torch.from_numpy(b.labels), model.temperature(), zneg,
                             torch.from_numpy(b.neg_labels[has]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i:  # first step: warm-up
                steps.append(time.perf_counter() - t)
                datas.append(d)
        s, d = statistics.median(steps), statistics.median(datas)
        mix = "/".join(f"{fractions[k]:g}" for k in ("single", "set", "seq"))
        print(f"| {stage} | {mix} | {1000 * s:.0f} | {1000 * d:.0f} | {bs / (s + d):.0f} |")


if __name__ == "__main__":
    main()
