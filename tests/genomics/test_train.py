"""Tokenise, train (C^2LR: SimCLR epoch then MI-Mix epoch; a rerun with another setting; DDP with two gloo
processes), embed: the torch stages on tiny data. Interrupted runs: test_faults.py."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertModel

from domains.genomics.dnabert_s.model import DNAEncoder, bert_config, embed_sequences, load_encoder
from domains.genomics.data.preprocess import preprocess
from domains.genomics.data.samples import read_sample_sheet
from domains.genomics.dnabert_s.tokenize import build_tokenizer, encode, kmer_table, tokenize
from tests.conftest import REPO
from tests.genomics.conftest import hparams_json, make_tokens, tiny_hp


@pytest.fixture()
def tokens(genome_dir, tmp_path):
    return make_tokens(genome_dir, tmp_path)


def _encoder(layers=2):
    md = {"hidden_size": 16, "num_layers": layers, "num_heads": 2, "intermediate_size": 32, "dropout": 0.0}
    torch.manual_seed(0)
    return DNAEncoder(BertModel(bert_config(md, 40, 16), add_pooling_layer=False)).eval()


def test_tokenize_writes_one_shard_per_epoch_and_learns_a_bpe_vocabulary(tokens):
    out, stats = tokens
    shards = sorted((out / "train").glob("shard_*.npz"))
    assert len(shards) == 2 and stats["vocab_size"] == 64 and stats["bp_per_token_train"] > 1.0
    with np.load(shards[0]) as z:
        assert z["ids"].shape == (2, 4, 2, 32) and z["ids"].max() < 64 and (z["lengths"] > 0).all()


def test_kmer_tokenizer_is_non_overlapping_kmers():
    tok = build_tokenizer("kmer", 0, 3, [])
    ids = encode(tok, ["ACGTTTGCA"])[0]
    assert [tok.id_to_token(int(i)) for i in ids] == ["ACG", "TTT", "GCA"]
    assert tok.get_vocab_size() == 5 + 64


def test_overlapping_kmers_are_every_kmer_at_stride_one_and_their_bag_is_the_kmer_profile():
    tok = build_tokenizer("kmer_overlap", 0, 3, [])
    spec = {"kind": "kmer_overlap", "k": 3, "canonical": False}
    seq = "ACGTTTGCANAC"
    ids = encode(tok, [seq], spec)[0]
    words = [tok.id_to_token(int(i)) for i in ids]
    want = [seq[i:i + 3] if "N" not in seq[i:i + 3] else "[UNK]" for i in range(len(seq) - 2)]
    assert words == want and len(ids) == len(seq) - 2
    assert len(encode(tok, ["AC"], spec)[0]) == 0  # shorter than k: no token
    # Non-overlapping k-mers through the numpy path agree with the tokenizer's own encoding.
    assert encode(tok, ["ACGTTTGCA"], {"kind": "kmer", "k": 3, "canonical": False})[0].tolist() == encode(build_tokenizer("kmer", 0, 3, []), ["ACGTTTGCA"])[0].tolist()


@pytest.mark.parametrize("k", [3, 4, 5])
def test_canonical_kmers_merge_each_kmer_with_its_reverse_complement(k):
    words, lut = kmer_table(k, canonical=True)
    assert len(words) == (4 ** k + (4 ** (k // 2) if k % 2 == 0 else 0)) // 2  # 136 for k = 4, as canonical TNF
    tok = build_tokenizer("kmer_overlap", 0, k, [], canonical=True)
    assert tok.get_vocab_size() == 5 + len(words) and lut.min() == 5 and lut.max() == 4 + len(words)
    rng = np.random.default_rng(k)
    seq = "".join(rng.choice(list("ACGT"), 300))
    rc = seq[::-1].translate(str.maketrans("ACGT", "TGCA"))
    spec = {"kind": "kmer_overlap", "k": k, "canonical": True}
    fwd, rev = encode(tok, [seq, rc], spec)
    assert fwd.tolist() == rev[::-1].tolist()  # the reverse strand reads the same tokens backwards
    plain = encode(tok, [seq], {"kind": "kmer_overlap", "k": k, "canonical": False})[0]
    assert len(set(plain.tolist())) > len(set(fwd.tolist()))


def test_tokenize_overlapping_kmers_writes_window_multiples(genome_dir, tmp_path):
    hp = tiny_hp(tokenizer={"kind": "kmer_overlap", "k": 4, "canonical": True, "max_tokens": 64, "window": 16})
    arrays, _ = preprocess(read_sample_sheet(genome_dir / "samples.tsv"), hp)
    stats = tokenize(arrays, hp, tmp_path / "tokens")
    assert stats["vocab_size"] == 5 + 136 and stats["window"] == 16 and stats["max_tokens"] == 64
    assert abs(stats["bp_per_token_train"] - 200 / 197) < 1e-9  # 200 bp fragments -> 197 overlapping 4-mers
    from domains.genomics.dnabert_s.train import ShardDataset

    batch = ShardDataset(tmp_path / "tokens" / "train", 2, window=16)[0]
    assert batch.shape[-1] == 64 and batch.min() >= 5


def test_a_sequence_longer_than_the_window_is_pooled_over_its_windows():
    enc = _encoder(layers=1)  # 16-token window
    ids = torch.randint(5, 40, (3, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = enc(ids)
        per_window = torch.stack([enc(ids[:, s:s + 16]) for s in range(0, 48, 16)]).mean(0)
        assert torch.allclose(whole, per_window, atol=1e-5)
        assert np.allclose(embed_sequences(enc, [x.numpy() for x in ids], window=16), whole.numpy(), atol=1e-5)
        perm = torch.tensor([1, 2, 0])
        assert torch.allclose(enc.forward_mixed(ids, 0, torch.ones(3), perm), whole, atol=1e-5)
        assert torch.allclose(enc.forward_mixed(ids, 1, torch.zeros(3), perm), whole[perm], atol=1e-5)
    with pytest.raises(ValueError, match="multiple"):
        enc(ids[:, :40])


def test_mixing_with_lambda_one_is_the_plain_forward_and_mixing_changes_the_output():
    enc = _encoder()
    ids = torch.randint(5, 40, (4, 12), generator=torch.Generator().manual_seed(0))
    perm = torch.tensor([1, 2, 3, 0])
    for layer in range(enc.num_layers):
        assert torch.allclose(enc.forward_mixed(ids, layer, torch.ones(4), perm), enc(ids), atol=1e-6)
        assert not torch.allclose(enc.forward_mixed(ids, layer, torch.full((4,), 0.5), perm), enc(ids), atol=1e-4)
    assert torch.allclose(enc.forward_mixed(ids, 0, torch.zeros(4), perm), enc(ids[perm]), atol=1e-6)


def test_windowed_embedding_pools_tokens_over_windows():
    enc = _encoder()
    x = np.arange(5, 21, dtype=np.int32)  # 16 tokens: exactly one window
    one = embed_sequences(enc, [x], window=16)
    two = embed_sequences(enc, [np.concatenate([x, x])], window=16)  # two identical windows -> same mean
    with torch.no_grad():
        direct = enc(torch.as_tensor(x[None], dtype=torch.long)).numpy()
    assert np.allclose(one, direct, atol=1e-5) and np.allclose(two, one, atol=1e-5)
    padded = embed_sequences(enc, [x, x[:5]], window=16, batch=2)  # padding must not leak into the mean
    assert np.allclose(padded[0], one[0], atol=1e-5)


def _train_cli(tokens_dir, out, *extra, **hp):
    cmd = [sys.executable, "-m", "domains.genomics.dnabert_s.train", "--tokens", str(tokens_dir), "--out", str(out),
           "--threads", "1", "--no-progress", "--hparams", hparams_json(**hp), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)


def test_train_cli_curriculum_outputs_and_rerun_with_another_setting(tokens, tmp_path):
    tokens_dir, _ = tokens
    out = tmp_path / "train"
    proc = _train_cli(tokens_dir, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert run["epochs"] == 2 and set(run["sequences_per_second"]) == {"simclr", "mimix"}
    assert run["devices"] == 1 and run["device"] == "cpu" and run["resumed_at_epoch"] is None
    hist = pd.read_csv(out / "history.csv")
    assert hist["phase2"].tolist() == [0.0, 1.0] and np.isfinite(hist["loss"]).all()
    trained, init = load_encoder(str(out / "encoder.pt")), load_encoder(str(out / "encoder_init.pt"))
    diff = sum(float((a - b).abs().sum().detach()) for a, b in zip(trained.parameters(), init.parameters()))
    assert diff > 0  # training moved the weights; the init file is the untrained encoder
    assert (out / "checkpoints" / "last.ckpt").is_file()
    init_state = torch.load(out / "encoder_init.pt", weights_only=True)["state_dict"]
    # Another setting in the same directory: the finished checkpoint is not continued, training starts over.
    proc = _train_cli(tokens_dir, out, train={"phase2_epochs": 2})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "config.train.phase2_epochs: 1 -> 2" in proc.stderr and "training from scratch" in proc.stderr
    hist = pd.read_csv(out / "history.csv")
    run = json.loads((out / "run.json").read_text())
    assert hist["epoch"].tolist() == [0, 1, 2] and run["epochs"] == 3 and run["resumed_at_epoch"] is None
    again = torch.load(out / "encoder_init.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(again[k], v) for k, v in init_state.items())  # same seed and model: the same init


def test_train_cli_ddp_with_two_gloo_processes(tokens, tmp_path):
    """compute.devices 2 on the CPU: Lightning starts a second process (gloo); its DistributedSampler gives rank r
    the epoch's batches r, r + 2, ... (here one of the two each) and the gradients are averaged; rank 0 alone
    writes the outputs."""
    tokens_dir, _ = tokens
    out = tmp_path / "train"
    proc = _train_cli(tokens_dir, out, "--compute", json.dumps({"accelerator": "cpu", "devices": 2}))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Starting with 2 processes" in proc.stderr
    printed = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    run = json.loads((out / "run.json").read_text())
    assert len(printed) == 1 and json.loads(printed[0]) == run  # one process wrote the outputs
    assert run["devices"] == 2 and run["epochs"] == 2 and np.isfinite(run["final_loss"])
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [0, 1]
    assert load_encoder(str(out / "encoder.pt")) is not None
    assert not list(out.glob(".*.part"))


def test_train_cli_without_tokens_is_one_line_error(tmp_path):
    proc = _train_cli(tmp_path / "nowhere", tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: ") and "tokens.json" in proc.stderr
    assert not (tmp_path / "out").exists()
