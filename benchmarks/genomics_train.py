"""Training-step throughput of the default genomics encoder: sequences/s for the weighted-SimCLR step (phase 1)
and the MI-Mix step (phase 2), forward + backward + AdamW, at 1 and 2 torch threads.

    python benchmarks/genomics_train.py [--steps 8] [--threads 1 2]

Random token batches of the default shape (batch pairs x 2 x max_tokens tokens, cut into windows of
tokenizer.window tokens by the encoder). GFLOP/s is estimated as 6 x (non-embedding parameters) x tokens +
attention (12 x layers x T x window x hidden per sequence of T tokens), against the ~25 GFLOP/s fp32 ceiling of
these cores (see ../shared/notes/machine.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from domains.genomics.dnabert_s.train import C2LRModule  # noqa: E402
from domains.genomics.dnabert_s.model import bert_config  # noqa: E402
from domains.genomics.dnabert_s.tokenize import KMER_KINDS, SPECIALS, kmer_table  # noqa: E402
from ssl_core.config import resolve_section  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    hp = resolve_section(("genomics",), None, None)
    tr, md, tk = hp["train"], hp["model"], hp["tokenizer"]
    T, W = tk["max_tokens"], tk["window"] or tk["max_tokens"]
    vocab = len(SPECIALS) + len(kmer_table(tk["k"], tk["canonical"])[0]) if tk["kind"] in KMER_KINDS else tk["vocab_size"]
    cfg = bert_config(md, vocab, W).to_dict()
    B = tr["batch_size"]
    H, L = md["hidden_size"], md["num_layers"]
    print(f"encoder: {L} layers x {H} hidden, {T} tokens/sequence in windows of {W}, batch {B} pairs ({2 * B} sequences)\n")
    print(f"{'step':24s} {'threads':>7s} {'s/step':>8s} {'seq/s':>8s} {'GFLOP/s':>8s} {'% of 25':>8s}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        module = C2LRModule(cfg, tr, total_steps=100)
        nonemb = sum(p.numel() for n, p in module.encoder.named_parameters() if "embeddings" not in n)
        opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
        batch = torch.randint(5, cfg["vocab_size"], (B, 2, T))
        flop_seq = 6 * nonemb * T + 3 * 4 * L * T * W * H
        for name, fn in [("weighted SimCLR (ph. 1)", lambda: module.simclr_step(batch)),
                         ("MI-Mix (ph. 2)", lambda: module.mimix_step(batch)[0])]:
            for i in range(args.steps + 1):
                if i == 1:
                    t0 = time.perf_counter()
                loss = fn()
                opt.zero_grad()
                loss.backward()
                opt.step()
            dt = (time.perf_counter() - t0) / args.steps
            gflops = 2 * B * flop_seq / dt / 1e9
            print(f"{name:24s} {threads:7d} {dt:8.2f} {2 * B / dt:8.1f} {gflops:8.1f} {100 * gflops / 25:7.0f}%")


if __name__ == "__main__":
    main()
