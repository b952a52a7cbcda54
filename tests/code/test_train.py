"""A few CoCoSoDa steps on a real (tiny) corpus for each variant: outputs, queues, ablation epochs, bad input
(interruption and resume: test_faults.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from domains.code.cocosoda.model import load_encoders
from domains.code.cocosoda.tokenizer import load_tokenizer
from domains.code.cocosoda.train import train, variant_settings
from ssl_core.config import deep_merge
from tests.conftest import REPO


@pytest.mark.parametrize("variant", ["cocosoda", "no_queue"])
def test_train_variant_writes_outputs(tiny, tmp_path, variant):
    d, hp = tiny
    run = train(d / "corpus", d / "tok.json", variant, hp, tmp_path / variant, threads=1, progress=False)
    for name in ("encoder.pt", "encoder_init.pt", "history.csv", "run.json"):
        assert (tmp_path / variant / name).is_file()
    assert run["steps_per_epoch"] == 3 and run["step_seconds"] > 0 and 0 < run["final_valid_mrr"] <= 1
    assert run["device"] and run["precision"] and run["resumed_at_epoch"] is None
    enc = load_encoders(tmp_path / variant / "encoder.pt")
    q = enc.query
    assert q is enc.code  # shared encoder by default
    assert enc.tokenizer.get_vocab() == load_tokenizer(d / "tok.json").get_vocab()  # saved with its tokenizer
    assert (enc.max_query_tokens, enc.max_code_tokens) == (16, 32)
    q0 = load_encoders(tmp_path / variant / "encoder_init.pt").query
    moved = any(not torch.equal(a, b) for a, b in zip(q.state_dict().values(), q0.state_dict().values()))
    assert moved
    ckpt = torch.load(tmp_path / variant / "checkpoints/last.ckpt", map_location="cpu", weights_only=False)
    has_queue = any("code_queue._keys" in k for k in ckpt["state_dict"])
    assert has_queue == (variant != "no_queue")
    if has_queue:
        assert int(ckpt["state_dict"]["code_queue._count"]) == 3 * 8  # three batches of eight keys


def test_variant_settings_ablate_one_thing_each(tiny):
    _, hp = tiny
    full = variant_settings("cocosoda", hp)
    assert variant_settings("no_sda", hp)["augment"] == {k: 0.0 for k in full["augment"]}
    assert variant_settings("no_queue", hp)["queue"] is False and full["queue"] is True
    assert variant_settings("no_intra", hp)["intra_weight"] == 0.0 and full["intra_weight"] > 0


def test_ablations_train_ablation_epochs_full_run_trains_epochs(tiny, tmp_path):
    d, hp = tiny
    hp = deep_merge(hp, {"train": {"epochs": 1, "ablation_epochs": 2}})
    full = train(d / "corpus", d / "tok.json", "cocosoda", hp, tmp_path / "full", threads=1, progress=False)
    ablated = train(d / "corpus", d / "tok.json", "no_intra", hp, tmp_path / "no_intra", threads=1, progress=False)
    assert full["epochs"] == 1 and ablated["epochs"] == 2
    hist = (tmp_path / "no_intra" / "history.csv").read_text().strip().splitlines()
    assert len(hist) == 1 + 2  # header + one row per epoch
    same = deep_merge(hp, {"train": {"ablation_epochs": None}})
    assert train(d / "corpus", d / "tok.json", "no_sda", same, tmp_path / "no_sda", threads=1,
                 progress=False)["epochs"] == 1


def test_train_cli_missing_corpus_is_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "domains.code.cocosoda.train", "--corpus", str(tmp_path / "none"),
                           "--tokenizer", str(tmp_path / "tok.json"), "--out", str(tmp_path / "out")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert not (tmp_path / "out" / "encoder.pt").exists()
