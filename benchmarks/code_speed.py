"""Code search speed: training step time per variant, and encoding (the cost of every evaluation): items/s and the
achieved GFLOP/s against the machine's matmul rate.

    python benchmarks/code_speed.py [--corpus results/code/corpus] [--tokenizer results/code/tokenizer.json]
        [--steps 10] [--threads 1] [--config ...] [--hparams JSON] [--variants cocosoda,pretrained_cocosoda]
        [--encode 1000]

Needs the corpus and tokenizer of a workflow run (``pretrained_cocosoda`` needs no tokenizer: it trains with its
checkpoint's, ``model.pretrained``, and the ``finetune`` settings of this machine: ``gpu`` on a GPU). Each
variant's encoder is built as its training job builds it and timed on this machine's device. Prints one table:
variant, seconds per training step (mean of ``--steps`` steps after one warm-up), pairs/s, and for encoding
``--encode`` validation snippets and queries as the evaluate stage does
(:func:`domains.code.cocosoda.model.encode_texts`: cut at the window, batches of similar length, inference mode):
code snippets/s, queries/s, the forward FLOPs per code snippet at the window, and the achieved GFLOP/s of code
encoding. The header gives the machine's fp32 matmul rate (a 2048 x 2048 product) to compare with. FLOPs count
the transformer's matrix products (:func:`encoder_flops`; a MiniLM window of 96 tokens is about 2 GFLOP).
Report figures as "measured under load" when other jobs share the machine.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import torch

from domains.code.data.lexer import code_tokens, encoder_text, query_tokens
from domains.code.cocosoda.model import encode_texts, token_ids
from domains.code.cocosoda.tokenizer import read_pairs
from domains.code.cocosoda.train import VARIANTS, Collate, Lexed, setup_variant, variant_settings
from ssl_core.config import resolve_section
from ssl_core.runtime import set_threads


def encoder_flops(config, lengths: list[int]) -> float:
    """Forward FLOPs (2 per multiply-add) of a BERT encoder over sequences of these token lengths: per layer and
    token, the Q, K, V and output projections (4 h^2) and the feed-forward (2 h i), plus attention scores and their
    weighted sum (2 n h per token of a length-n sequence)."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return 2.0 * layers * sum(n * (4 * h * h + 2 * h * i) + 2 * n * n * h for n in lengths)


def matmul_gflops(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """The machine's fp32 matmul rate (GFLOP/s) on ``device``: the best of ``repeats`` n x n products."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=Path("results/code/corpus"))
    p.add_argument("--tokenizer", type=Path, default=Path("results/code/tokenizer.json"))
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--encode", type=int, default=1000, help="validation snippets and queries encoded")
    p.add_argument("--config", action="append", type=Path, help="config YAML merged over config/config.yaml")
    p.add_argument("--hparams", default=None, help="JSON merged over the code config section (as the stages take)")
    p.add_argument("--variants", default="cocosoda,pretrained_cocosoda", help="comma-separated, of " + ",".join(VARIANTS))
    args = p.parse_args()
    set_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    hp = resolve_section(("code",), args.config, args.hparams)
    rows = read_pairs(args.corpus / "valid.jsonl")[:2000]
    lexed = Lexed(rows)
    q = [encoder_text([t for _, t in query_tokens(r["query"])]) for r in rows[: args.encode]]
    c = [encoder_text([t for _, t in code_tokens(r["code"])]) for r in rows[: args.encode]]
    print(f"device={device} threads={args.threads} matmul_fp32_gflops={matmul_gflops(device):.0f} "
          f"encode_batch={hp['eval']['batch_size']}")
    print("variant\tlayers\thidden\tmax_code_tokens\tbatch\tstep_s\tpairs_per_s\tcode_per_s\tqueries_per_s"
          "\tgflop_per_code\tcode_gflops")
    rng = random.Random(0)
    for variant in args.variants.split(","):
        setup = setup_variant(variant, hp, args.tokenizer, device.type == "cuda")
        vhp, tok = setup.hp, setup.tokenizer
        md, bs = vhp["model"], vhp["train"]["batch_size"]
        module = setup.module(total_steps=100).to(device)
        module.log = lambda *a, **k: None
        opt = torch.optim.AdamW([x for x in module.parameters() if x.requires_grad], lr=1e-4)
        collate = Collate(lexed, tok, md, variant_settings(variant, vhp)["augment"], 0)
        times = []
        for i in range(args.steps + 1):
            t0 = time.perf_counter()
            batch = {k: v.to(device) for k, v in collate(rng.choices(range(len(rows)), k=bs)).items()}
            loss = module.training_step(batch, i)
            loss.backward()
            opt.step()
            opt.zero_grad()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i:
                times.append(time.perf_counter() - t0)
        step = sum(times) / len(times)
        cfg = module.code_encoder.bert.config
        t0 = time.perf_counter()
        encode_texts(module.code_encoder, tok, c, md["max_code_tokens"], hp["eval"]["batch_size"])
        t1 = time.perf_counter()
        encode_texts(module.query_encoder, tok, q, md["max_query_tokens"], hp["eval"]["batch_size"])
        t2 = time.perf_counter()
        flops = encoder_flops(cfg, [len(s) for s in token_ids(tok, c, md["max_code_tokens"])])
        window = encoder_flops(cfg, [md["max_code_tokens"]]) / 1e9
        print(f"{variant}\t{cfg.num_hidden_layers}\t{cfg.hidden_size}\t{md['max_code_tokens']}\t{bs}\t{step:.3f}"
              f"\t{bs / step:.1f}\t{len(c) / (t1 - t0):.1f}\t{len(q) / (t2 - t1):.1f}\t{window:.3g}"
              f"\t{flops / (t1 - t0) / 1e9:.1f}")


if __name__ == "__main__":
    main()
