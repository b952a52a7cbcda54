"""Train the BPE vocabulary shared by queries and code (``tokenizers``), on the training split only.

    python -m domains.code.cocosoda.tokenizer --corpus results/code/corpus --out results/code/tokenizer.json \
        [--config ...] [--hparams JSON]

Texts are what the encoder reads (:func:`domains.code.data.lexer.encoder_text`: Python tokens joined by spaces,
identifiers split into words, lower case). It serves the encoders trained from scratch; a pretrained encoder
(``model.pretrained``) keeps its checkpoint's own tokenizer, saved with it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from domains.code.data.lexer import code_tokens, encoder_text, query_tokens
from domains.code.settings import STAGE_PARTS
from ssl_core.atomic import atomic_path
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors

__all__ = ["SPECIAL", "train_bpe", "load_tokenizer", "main"]

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_pairs(path: Path) -> list[dict]:
    """Rows of a corpus split (``train.jsonl`` / ``valid.jsonl``)."""
    if not path.is_file():
        raise InputError(f"{path}: missing (run the corpus stage first)")
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def train_bpe(texts: list[str], vocab_size: int, min_frequency: int) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL,
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def load_tokenizer(path: Path) -> Tokenizer:
    """A ``tokenizers`` JSON file, with any padding or truncation it was saved with turned off (batches are cut and
    padded by :func:`domains.code.cocosoda.model.batch_ids`)."""
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
        raise InputError(f"{path}: not a tokenizers JSON file ({str(exc).splitlines()[0]})") from None
    tok.no_padding()
    tok.no_truncation()
    return tok


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.code.cocosoda.tokenizer", description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", required=True, type=Path, help="output directory of the corpus stage")
    p.add_argument("--out", required=True, type=Path, help="tokenizer JSON to write")
    p.add_argument("--config", action="append", type=Path)
    p.add_argument("--hparams", default=None)
    args = p.parse_args(argv)
    hp = resolve_section(("code",), args.config, args.hparams, parts=STAGE_PARTS["tokenizer"])
    rows = read_pairs(args.corpus / "train.jsonl")
    texts = [encoder_text([t for _, t in query_tokens(r["query"])]) for r in rows]
    texts += [encoder_text([t for _, t in code_tokens(r["code"])]) for r in rows]
    tok = train_bpe(texts, hp["tokenizer"]["vocab_size"], hp["tokenizer"]["min_frequency"])
    with atomic_path(args.out) as tmp:
        tok.save(str(tmp))
    print(json.dumps({"vocab_size": tok.get_vocab_size()}))


if __name__ == "__main__":
    main()
