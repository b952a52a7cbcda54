"""Code search speed: training step time per variant and encode throughput (items/s), default model config.

    python benchmarks/code_speed.py [--corpus results/code/corpus] [--tokenizer results/code/tokenizer.json]
        [--steps 10] [--threads 1] [--config ...] [--hparams JSON] [--variants cocosoda,no_queue]

Needs the corpus and tokenizer of a workflow run. Prints one table: variant, seconds per training step (mean of
``--steps`` steps after one warm-up), pairs/s, and code snippets/s and queries/s when encoding (no gradient).
Report figures as "measured under load" when other jobs share the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

from domains.code.data.lexer import code_tokens, encoder_text, query_tokens
from domains.code.cocosoda.model import bert_config, encode_texts
from domains.code.cocosoda.tokenizer import load_tokenizer, read_pairs
from domains.code.cocosoda.train import VARIANTS, CoCoSoDaModule, Collate, Lexed, variant_settings
from ssl_core.config import resolve_section
from ssl_core.runtime import set_threads


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=Path("results/code/corpus"))
    p.add_argument("--tokenizer", type=Path, default=Path("results/code/tokenizer.json"))
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--config", action="append", type=Path, help="config YAML merged over config/config.yaml")
    p.add_argument("--hparams", default=None, help="JSON merged over the code config section (as the stages take)")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variants to time")
    args = p.parse_args()
    set_threads(args.threads)
    hp = resolve_section(("code",), args.config, args.hparams)
    tok = load_tokenizer(args.tokenizer)
    rows = read_pairs(args.corpus / "valid.jsonl")[:2000]
    lexed = Lexed(rows)
    cfg = json.loads(json.dumps(bert_config(hp["model"], tok.get_vocab_size()).to_dict(), default=str))
    bs = hp["train"]["batch_size"]
    print(f"threads={args.threads} batch={bs} hidden={hp['model']['hidden_size']} layers={hp['model']['num_layers']}"
          f" max_code_tokens={hp['model']['max_code_tokens']}")
    print("variant\tstep_s\tpairs_per_s\tcode_per_s\tqueries_per_s")
    rng = random.Random(0)
    for variant in args.variants.split(","):
        st = variant_settings(variant, hp)
        module = CoCoSoDaModule(cfg, hp, st, 100)
        module.log = lambda *a, **k: None
        opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
        collate = Collate(lexed, tok, hp["model"], st["augment"], 0)
        times = []
        for i in range(args.steps + 1):
            t0 = time.perf_counter()
            batch = collate(rng.sample(range(len(rows)), bs))
            loss = module.training_step(batch, i)
            loss.backward()
            opt.step()
            opt.zero_grad()
            if i:
                times.append(time.perf_counter() - t0)
        step = sum(times) / len(times)
        q = [encoder_text([t for _, t in query_tokens(r["query"])]) for r in rows[:1000]]
        c = [encoder_text([t for _, t in code_tokens(r["code"])]) for r in rows[:1000]]
        t0 = time.perf_counter()
        encode_texts(module.code_encoder, tok, c, hp["model"]["max_code_tokens"], hp["eval"]["batch_size"])
        t1 = time.perf_counter()
        encode_texts(module.query_encoder, tok, q, hp["model"]["max_query_tokens"], hp["eval"]["batch_size"])
        t2 = time.perf_counter()
        print(f"{variant}\t{step:.3f}\t{bs / step:.1f}\t{len(c) / (t1 - t0):.1f}\t{len(q) / (t2 - t1):.1f}")


if __name__ == "__main__":
    main()
