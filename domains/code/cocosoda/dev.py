"""Choose the dense row of the hybrid on the dev split: every dense encoder (the trained variants and the pretrained
checkpoint zero-shot) is scored by MRR on the corpus validation pairs, and the best one is the dense half of the
``hybrid_rrf`` row of every benchmark. No benchmark's test queries are read for this choice.

    python -m domains.code.cocosoda.dev --valid results/code/corpus/valid.jsonl \
        --trained cocosoda=results/code/train/cocosoda/encoder.pt \
        --trained pretrained=results/code/train/pretrained_cocosoda/encoder_init.pt --out results/code/dev.json

The dev benchmark is the first ``eval.dev_pairs`` validation pairs (the pairs the training curves use): each query
against those pairs' functions, its own function the gold one, ranked as in the evaluate stage (ties count half).
``dev.json``: ``pairs``, ``mrr`` (row -> dev MRR) and ``chosen`` (the highest; a tie goes to the row named first).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from domains.code.cocosoda.evaluate import encoder_scores, gold_ranks, named_path
from domains.code.cocosoda.tokenizer import read_pairs
from domains.code.data.lexer import code_tokens, encoder_text, query_tokens
from domains.code.settings import STAGE_PARTS
from ssl_core.atomic import write_json
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors
from ssl_core.runtime import set_threads

__all__ = ["dev_choice", "main"]


def dev_choice(rows: list[dict[str, Any]], encoders: dict[str, Path], hp: dict[str, Any]) -> dict[str, Any]:
    """Dev MRR of each encoder on the first ``eval.dev_pairs`` of ``rows`` (``query``/``code`` pairs) and the
    best row."""
    if not encoders:
        raise InputError("no dense encoder to choose from (give at least one --trained ROW=PATH)")
    pairs = rows[: hp["eval"]["dev_pairs"]]
    if len(pairs) < 2:
        raise InputError(f"{len(pairs)} validation pairs: the dev choice needs at least 2")
    texts = ([encoder_text([t for _, t in query_tokens(r["query"])]) for r in pairs],
             [encoder_text([t for _, t in code_tokens(r["code"])]) for r in pairs])
    gold = np.arange(len(pairs))
    mrr = {}
    for name, path in encoders.items():
        scores, _ = encoder_scores(path, hp["eval"]["batch_size"], texts)
        mrr[name] = float(np.mean(1.0 / gold_ranks(scores, gold)))
    chosen = max(mrr, key=lambda name: (mrr[name], -list(mrr).index(name)))
    return {"pairs": len(pairs), "mrr": mrr, "chosen": chosen}


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.code.cocosoda.dev", description=__doc__.split("\n\n")[0])
    p.add_argument("--valid", required=True, type=Path, help="validation pairs (results/code/corpus/valid.jsonl)")
    p.add_argument("--trained", action="append", type=named_path, default=[],
                   help="ROW=encoder file, one per dense row (a trained variant, or pretrained=its encoder_init.pt)")
    p.add_argument("--out", required=True, type=Path, help="dev.json")
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    set_threads(args.threads)
    hp = resolve_section(("code",), args.config, args.hparams, parts=STAGE_PARTS["dev"])
    if not args.valid.is_file():
        raise InputError(f"{args.valid}: file not found (run the corpus stage first)")
    result = dev_choice(read_pairs(args.valid), dict(args.trained), hp)
    write_json(args.out, result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
