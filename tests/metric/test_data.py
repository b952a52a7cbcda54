"""The data stage: class-disjoint splits from the audio and genomics outputs, and its bad-input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from domains.genomics.dnabert_s.tnf import tnf
from domains.metric.data.build import canonical_kmer_index, kmer_profiles, main
from tests.metric.conftest import TINY, write_esc50, write_fragments

HP = json.dumps({"data": TINY["data"]})


def test_esc50_split_by_class_index(tmp_path):
    src = write_esc50(tmp_path / "esc50.npz")
    main(["--dataset", "esc50", "--source", str(src), "--out", str(tmp_path / "out.npz"), "--hparams", HP])
    d = np.load(tmp_path / "out.npz")
    assert set(d["y"][~d["test"]]) == {0, 1, 2} and set(d["y"][d["test"]]) == {3, 4, 5}
    assert d["x"].shape == (24, 8, 6)  # 12 frames pooled by 2
    src_x = np.load(src)["mels"].astype(np.float32)
    assert np.allclose(d["x"][0, :, 0], src_x[0, :, :2].mean(1), atol=1e-2)


def test_species_split_and_profiles(tmp_path):
    src = write_fragments(tmp_path / "fragments.npz")
    main(["--dataset", "species", "--source", str(src), "--out", str(tmp_path / "out.npz"), "--hparams", HP])
    d = np.load(tmp_path / "out.npz")
    train, test = d["y"][~d["test"]], d["y"][d["test"]]
    assert set(train) == {0, 1, 2, 3} and set(test) == {4, 5, 6}
    assert np.bincount(train).tolist() == [4, 4, 4, 4]  # 4 batches: one pair of each species per batch
    assert d["x"].shape[1] == 32  # canonical 3-mers
    assert np.allclose(d["x"].sum(1), 1, atol=1e-5) and np.allclose(d["tnf"].sum(1), 1, atol=1e-5)
    assert list(d["classes"][4:]) == ["held-out sp 0", "held-out sp 1", "held-out sp 2"]


def test_kmer_profiles_equal_genomics_tnf_for_k4():
    rng = np.random.default_rng(0)
    seqs = np.frombuffer(b"ACGTN", np.uint8)[rng.choice(5, size=(5, 200), p=[0.24, 0.24, 0.24, 0.24, 0.04])]
    prof = kmer_profiles(seqs, 4)
    ref = np.stack([tnf(bytes(s)) for s in seqs])
    assert np.allclose(prof, ref, atol=1e-6)
    assert int(canonical_kmer_index(5).max()) + 1 == 512


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 0, 3, 3, 4, 4, 5, 5]), "1 training class(es)"),
    (np.array([0, 0, 1, 2, 2, 3, 3, 4, 4]), "has a single example"),
])
def test_bad_data_sets_fail_with_one_line_and_no_output(tmp_path, capsys, labels, message):
    src = write_esc50(tmp_path / "esc50.npz", labels=labels)
    out = tmp_path / "out.npz"
    with pytest.raises(SystemExit) as exc:
        main(["--dataset", "esc50", "--source", str(src), "--out", str(out), "--hparams", HP])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.glob(".out.npz*")) == []


def test_malformed_source_and_config_typo(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SystemExit):
        main(["--dataset", "species", "--source", str(bad), "--out", str(tmp_path / "o.npz")])
    assert "not a readable .npz" in capsys.readouterr().err
    src = write_esc50(tmp_path / "esc50.npz")
    with pytest.raises(SystemExit):
        main(["--dataset", "esc50", "--source", str(src), "--out", str(tmp_path / "o.npz"),
              "--hparams", json.dumps({"data": {"esc50": {"train_clases": 3}}})])
    err = capsys.readouterr().err
    assert "config: metric.data.esc50: unknown key" in err and "train_clases" in err
    assert not (tmp_path / "o.npz").exists()
