"""A user's own clips (``audio.user_datasets``): a folder of clips and a CSV ``file,label[,fold][,caption]``, any
format soundfile reads, any sample rate. Read in ESC-50's layout, checked line by line (one error line naming the
table, the line and the problem, nothing written), and run through the semi-supervised part and CLAP/TeminAL by
snakemake on the tiny config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from domains.audio.data.readers import USER_FOLDS, read_clip_table, read_user_meta
from domains.audio.settings import check_datasets
from ssl_core.config import load_config
from ssl_core.errors import InputError
from tests.audio.conftest import write_wave
from tests.conftest import REPO
from tests.test_workflow import _snakemake

CLASSES = ("bird_song", "dog", "engine", "rain", "siren", "whistle")  # six: three seen, three held out (zero-shot)


def make_user_clips(root: Path, per_class: int = 5, seconds: float = 1.5, folds: bool = False,
                    captions: bool = False) -> Path:
    """``per_class`` clips of each class written as a user would: one folder per class, a tone and its overtone
    per class (so classes are learnable) with noise, alternately 16 kHz .wav and 8 kHz .flac; the table lists them
    in a shuffled order. Returns the table."""
    rng = np.random.default_rng(0)
    rows = []
    for k, label in enumerate(CLASSES):
        for i in range(per_class):
            rate, ext = (16000, "wav") if i % 2 == 0 else (8000, "flac")
            t = np.arange(int(seconds * rate)) / rate
            f0 = 200.0 * (k + 1)
            wave = 0.4 * np.sin(2 * np.pi * f0 * t) + 0.2 * np.sin(2 * np.pi * 2 * f0 * t)
            wave = (wave + 0.05 * rng.normal(size=t.shape)).astype(np.float32)
            write_wave(root / "clips" / label / f"{i}.{ext}", wave, rate)
            row = {"file": f"clips/{label}/{i}.{ext}", "label": label}
            if folds:
                row["fold"] = i % 3 + 1
            if captions:
                row["caption"] = f"the sound of a {label.replace('_', ' ')}"
            rows.append(row)
    table = pd.DataFrame(rows).sample(frac=1.0, random_state=0)
    table.to_csv(root / "clips.csv", index=False)
    return root / "clips.csv"


def test_user_table_reads_in_esc50_layout_with_seeded_stratified_folds(tmp_path):
    meta = read_user_meta(make_user_clips(tmp_path / "mine"))
    assert len(meta) == 30 and not meta["esc10"].any()
    assert sorted(set(meta["label"])) == list(CLASSES)
    assert (meta["target"] == meta["label"].map({c: k for k, c in enumerate(CLASSES)})).all()
    assert (meta["category"] == meta["label"].str.replace("_", " ")).all()  # captions default to the label
    # five clips per class dealt into folds 1-5: each fold holds one clip of each class
    assert (meta.groupby(["fold", "label"]).size() == 1).all() and sorted(set(meta["fold"])) == list(range(1, USER_FOLDS + 1))
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in meta["path"])
    assert meta["filename"].tolist() == pd.read_csv(tmp_path / "mine/clips.csv")["file"].tolist()  # table order kept
    again = read_user_meta(tmp_path / "mine/clips.csv")
    assert again["fold"].tolist() == meta["fold"].tolist()  # the draw is seeded


def test_fold_and_caption_columns_are_used(tmp_path):
    meta = read_clip_table(make_user_clips(tmp_path / "mine", folds=True, captions=True))
    assert set(meta["fold"]) == {1, 2, 3}
    assert set(meta["category"]) == {f"the sound of a {c.replace('_', ' ')}" for c in CLASSES}


def _edit(table: Path, fn) -> None:
    lines = table.read_text().splitlines()
    table.write_text("\n".join(fn(lines)) + "\n")


def _cell(lines: list[str], row: int, col: int, value: str) -> list[str]:
    """``lines`` with column ``col`` of ``lines[row]`` (the file's line ``row + 1``) set to ``value``."""
    cells = lines[row].split(",")
    cells[col] = value
    return lines[:row] + [",".join(cells)] + lines[row + 1:]


@pytest.mark.parametrize("edit,message", [
    (lambda t: _edit(t, lambda l: [l[0] + ",speaker"] + [x + ",a" for x in l[1:]]), "line 1: unknown column 'speaker'"),
    (lambda t: _edit(t, lambda l: ["file,name"] + l[1:]), "line 1: unknown column 'name'"),
    (lambda t: _edit(t, lambda l: l + [l[3]]), "line 32: file"),
    (lambda t: _edit(t, lambda l: _cell(l, 4, 0, "../outside.wav")), "line 5: file '../outside.wav' leaves the table's folder"),
    (lambda t: _edit(t, lambda l: _cell(l, 2, 0, "/tmp/a.wav")), "line 3: file '/tmp/a.wav' is an absolute path"),
    (lambda t: _edit(t, lambda l: _cell(l, 5, 0, "clips/dog/9.wav")), "line 6: file 'clips/dog/9.wav' not found"),
    (lambda t: _edit(t, lambda l: _cell(l, 6, 1, "cat")), "line 7: label 'cat' has one clip"),
    (lambda t: _edit(t, lambda l: _cell(l, 3, 1, "")), "line 4: empty label"),
    (lambda t: _edit(t, lambda l: [l[0] + ",fold"] + [x + (",x" if i == 6 else ",1") for i, x in enumerate(l[1:])]),
     "line 8: column fold: 'x' is not an integer"),
    (lambda t: _edit(t, lambda l: [l[0] + ",caption"] + [x + (",a barking dog" if i == 0 else ",") for i, x in enumerate(l[1:])]),
     "has a second caption"),
])
def test_bad_user_table_is_one_clear_error(tmp_path, edit, message):
    table = make_user_clips(tmp_path / "mine")
    edit(table)
    with pytest.raises(InputError) as err:
        read_user_meta(table)
    text = str(err.value)
    assert text.startswith(str(table)) and message in text, text
    assert "\n" not in text


def test_a_clip_that_cannot_be_decoded_stops_prepare_with_one_line_and_no_output(tmp_path):
    table = make_user_clips(tmp_path / "mine")
    broken = pd.read_csv(table)["file"].iloc[6]
    (tmp_path / "mine" / broken).write_bytes(b"not audio at all" * 64)
    out = tmp_path / "features.npz"
    proc = subprocess.run([sys.executable, "-m", "domains.audio.data.prepare", "--dataset", "mine", "--meta",
                           str(table), "--out", str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip() and not x.startswith("source:")]
    assert len(lines) == 1 and f"{table}: line 8: " in lines[0] and "cannot read audio" in lines[0], lines
    assert broken in lines[0]
    assert not out.exists()


def test_unknown_audio_data_set_names_in_config():
    section = load_config([REPO / "config" / "config.yaml"])["audio"]
    check_datasets(section)
    for key, edit in (("data.datasets", {"data": {**section["data"], "datasets": ["esc50", "mine"]}}),
                      ("semisup.datasets", {"semisup": {**section["semisup"], "datasets": ["mine"]}}),
                      ("clap.dataset", {"clap": {**section["clap"], "dataset": "mine"}})):
        with pytest.raises(InputError, match=rf"config: audio.{key}: unknown data set 'mine'"):
            check_datasets({**section, **edit})
        check_datasets({**section, **edit, "user_datasets": {"mine": "clips.csv"}})


@pytest.mark.slow
def test_user_clips_through_semisup_and_clap_end_to_end(tmp_path):
    table = make_user_clips(tmp_path / "mine")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({
        "domains": ["audio"],
        "audio": {"user_datasets": {"mine": str(table)},
                  "data": {"datasets": ["mine"], "user": {"clip_seconds": 1.0}},
                  "semisup": {"datasets": ["mine"], "methods": ["supervised_10", "mixmatch"],
                              "user": {"folds": [1, 2], "seeds": [0], "time_pool": 1}},
                  "clap": {"dataset": "mine", "split": {"unseen_classes": 3, "max_classes": None},
                           "features": {"clip_seconds": 1.0}}}}))
    args = ["--cores", "2", "--configfile", "config/test.yaml", str(cfg)]
    proc = _snakemake(tmp_path, *args, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]

    features = np.load(tmp_path / "results/audio/features/mine.npz")
    assert features["mels"].shape[0] == 30 and list(features["classes"]) == list(CLASSES)
    assert json.loads(str(features["config"]))["sample_rate"] == 16000  # 8 kHz clips resampled

    semisup = json.loads((tmp_path / "results/audio/semisup/mine/metrics.json").read_text())
    assert semisup["dataset"] == "mine"
    assert {"supervised_10", "mixmatch"} <= set(semisup["error_rate"])
    for method in ("supervised_10", "mixmatch"):
        assert semisup["error_rate"][method]["n_runs"] == 2  # folds 1 and 2, seed 0
        for fold in (1, 2):
            run = json.loads((tmp_path / f"results/audio/semisup/mine/{method}/fold{fold}_seed0/result.json").read_text())
            assert run["n_test"] == 6 and 0 <= run["test_error"] <= 1  # fold k: one clip of each of six classes

    clap = json.loads((tmp_path / "results/audio/clap/metrics.json").read_text())
    evaluation = json.loads((tmp_path / "results/audio/clap/stageB/eval.json").read_text())
    assert len(evaluation["unseen_classes"]) == 3 and set(evaluation["unseen_classes"]) <= {c.replace("_", " ") for c in CLASSES}
    assert evaluation["unseen_clips"] == 12 and 0 <= evaluation["zs_top1"] <= 1
    assert clap["dataset"] == "mine" and clap["unseen_classes"] == evaluation["unseen_classes"]

    rows = pd.read_csv(tmp_path / "results/audio/table.tsv", sep="\t")
    assert set(rows["dataset"]) == {"mine", "mine (3 unseen classes)"} and set(rows["part"]) == {"semisup", "clap"}
    for fig in ("results/audio/figures/semisup_error_rates.png", "results/audio/clap/figures/zeroshot_confusion.png"):
        assert (tmp_path / fig).read_bytes()[:4] == b"\x89PNG"

    # the user edits one clip: its features and everything trained on them run again; nothing else is lost
    again = _snakemake(tmp_path, "-n", *args)
    assert "Nothing to be done" in again.stdout + again.stderr
    first = pd.read_csv(table)["file"].iloc[0]
    write_wave(tmp_path / "mine" / first, np.zeros(8000, dtype=np.float32) + 0.1, 8000)
    dry = _snakemake(tmp_path, "-n", *args)
    assert dry.returncode == 0 and "audio_prepare" in dry.stdout and "audio_clap_captions" in dry.stdout, dry.stdout[-2000:]
