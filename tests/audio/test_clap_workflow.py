"""CLAP part A as a user runs it (snakemake, tiny config, real clips from the mirror), then a forced rerun and a
config edit of its plain training job; and its bad-input behaviour on the shared files: a metadata row without its
clip is a counted skip, a corrupt clip one error line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from domains.audio.clap import train as clap_train
from domains.audio.clap.clips import class_names, class_split
from tests.audio.test_clap_pipeline import HP, captions, esc50_meta  # noqa: F401 (fixtures)
from tests.audio.conftest import write_wave
from tests.conftest import REPO
from tests.faults import restarted_with_reason
from tests.test_workflow import _snakemake


@pytest.mark.slow
def test_clap_tiny_workflow_end_to_end(tmp_path, audio_mirror):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"domains": ["audio"]}))
    targets = ["results/audio/clap/metrics.json", "results/audio/clap/figures/zeroshot_confusion.png",
               "results/audio/clap/figures/temporal_per_stage.png"]
    args = ["--cores", "2", "--configfile", "config/test.yaml", str(cfg)]
    proc = _snakemake(tmp_path, *targets, *args, mirror=audio_mirror, timeout=600)  # --configfile takes 2+
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((tmp_path / targets[0]).read_text())
    assert list(m["stages"]) == ["plain", "stageA", "stageB"]
    assert {"zs_top1", "zs_top5", "a2t_r1", "t2a_r1", "temporal_acc"} <= set(m["stages"]["stageB"])
    assert m["table_rows"] and {r["part"] for r in m["table_rows"]} == {"clap"}
    for fig in targets[1:]:
        assert (tmp_path / fig).read_bytes()[:4] == b"\x89PNG"
    again = _snakemake(tmp_path, "-n", *targets, *args, mirror=audio_mirror)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    # snakemake -f on a finished training job: trained again from scratch to the same model; what depends on it stays
    plain, log = tmp_path / "results/audio/clap/plain", tmp_path / "logs/audio/clap_train_plain.log"
    before, before_run = _weights(plain / "model.pt"), json.loads((plain / "run.json").read_text())
    forced = _snakemake(tmp_path, "-f", "results/audio/clap/plain/model.pt", *args, mirror=audio_mirror)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "belongs to a finished run" in log.read_text() and "training from scratch" in log.read_text()
    assert _same(_weights(plain / "model.pt"), before)
    run = json.loads((plain / "run.json").read_text())
    assert (run["final_loss"], run["final_temperature"]) == (before_run["final_loss"], before_run["final_temperature"])
    for path in [*targets, "results/audio/clap/stageA/model.pt", "results/audio/clap/stageB/eval.json"]:
        assert (tmp_path / path).is_file(), path

    # a training setting edited in the config: the job trains from scratch (its log names the key) and ends with
    # the model of the stage run directly with the new setting; the caption table is not rebuilt
    edit = tmp_path / "lr.yaml"
    edit.write_text(yaml.safe_dump({"audio": {"clap": {"train": {"lr": 0.003}}}}))
    edited = _snakemake(tmp_path, "results/audio/clap/plain/model.pt", *args, str(edit), mirror=audio_mirror)
    assert edited.returncode == 0, edited.stderr[-3000:]
    assert restarted_with_reason(log, "train.lr")
    assert "audio_clap_captions" not in edited.stdout + edited.stderr
    fresh = tmp_path / "fresh"
    clap_train.main(["--stage", "plain", "--meta", str(tmp_path / "resources/audio/esc50/meta.csv"),
                     "--captions", str(tmp_path / "results/audio/clap/captions.pt"), "--out", str(fresh),
                     "--config", str(REPO / "config/test.yaml"), "--config", str(cfg), "--config", str(edit),
                     "--threads", "1", "--no-progress"])
    assert _same(_weights(plain / "model.pt"), _weights(fresh / "model.pt"))
    assert not _same(_weights(plain / "model.pt"), before)
    run, direct = (json.loads((d / "run.json").read_text()) for d in (plain, fresh))
    assert (run["final_loss"], run["final_temperature"]) == (direct["final_loss"], direct["final_temperature"])


def _weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _tiny_esc50(mirror: Path, dest: Path) -> tuple[Path, pd.DataFrame]:
    """A writable ESC-50 directory with 4 real clips of each of the tiny config's 6 classes."""
    meta = pd.read_csv(mirror / "audio" / "esc50" / "meta.csv")
    split = class_split(sorted(class_names(meta)), 3, 0, 5, 6)
    rows = meta[meta.target.isin(split.seen + split.unseen)].groupby("target").head(4)
    (dest / "audio").mkdir(parents=True)
    for f in rows.filename:
        shutil.copyfile(mirror / "audio" / "esc50" / "audio" / f, dest / "audio" / f)
    rows.to_csv(dest / "meta.csv", index=False)
    return dest / "meta.csv", rows


def _train_args(meta: Path, captions: Path, out: Path) -> list[str]:
    return ["--stage", "plain", "--meta", str(meta), "--captions", str(captions), "--out", str(out), "--hparams", HP,
            "--threads", "1", "--no-progress"]


def test_row_without_clip_is_a_counted_skip_and_corrupt_clip_an_error(audio_mirror, captions, tmp_path, capsys):
    meta, rows = _tiny_esc50(audio_mirror, tmp_path / "esc50")
    seen = set(class_split(sorted(class_names(rows)), 3, 0, 5, 6).seen)
    in_train = rows[rows.target.isin(seen) & (rows.fold != 5)]
    (tmp_path / "esc50" / "audio" / in_train.filename.iloc[0]).unlink()  # a metadata row without its file
    short = in_train.filename.iloc[2]  # a clip shorter than one STFT window
    write_wave(tmp_path / "esc50" / "audio" / short, np.random.default_rng(0).normal(0, 0.1, 500), 16000)
    with pytest.warns(UserWarning) as record:
        clap_train.main(_train_args(meta, captions, tmp_path / "ok"))
    assert any("1 of" in str(w.message) for w in record) and any("shorter" in str(w.message) for w in record)
    run = json.loads((tmp_path / "ok" / "run.json").read_text())
    assert run["train_clips"] == len(in_train) - 2 and run["skipped_short_clips"] == [short]
    bad = tmp_path / "esc50" / "audio" / in_train.filename.iloc[1]
    bad.write_bytes(b"OggS" + b"\x00" * 200)  # truncated / unreadable
    with pytest.raises(SystemExit) as exc:
        clap_train.main(_train_args(meta, captions, tmp_path / "bad"))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and bad.name in err[0]
    assert not (tmp_path / "bad" / "model.pt").exists()
