"""CLAP part A stages on real ESC-50 clips (a few per class, a few classes, a few steps): captions -> plain ->
stage A -> stage B -> zero-shot evaluation -> report; and their bad-input behaviour (one line, exit 2, no output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domains.audio.clap import report as clap_report, text, train as clap_train, zeroshot

TINY = {
    "split": {"unseen_classes": 3, "max_classes": 6},
    "model": {"channels": [8, 16], "embed_dim": 16, "temporal_hidden": 8},
    "text": {"hidden": 16},
    "train": {"batch_size": 8, "limit_per_class": 4,
              "stages": {"plain": {"steps": 2}, "stageA": {"steps": 2}, "stageB": {"steps": 2}}},
    "eval": {"temporal_pairs": 8, "retrieval_draws": 1, "limit_per_class": 4},
}
HP = json.dumps(TINY)


@pytest.fixture(scope="module")
def esc50_meta(mirror: Path) -> Path:
    meta = mirror / "audio" / "esc50" / "meta.csv"
    if not meta.is_file():
        pytest.skip("mirror has no audio/esc50")
    return meta


@pytest.fixture(scope="module")
def captions(esc50_meta: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clap") / "captions.pt"
    text.main(["--meta", str(esc50_meta), "--out", str(out), "--hparams", HP, "--threads", "1"])
    return out


def _train(stage, meta, captions, out, init=None):
    args = ["--stage", stage, "--meta", str(meta), "--captions", str(captions), "--out", str(out / stage),
            "--hparams", HP, "--threads", "1", "--no-progress"]
    clap_train.main(args + (["--init", str(init)] if init else []))


def test_tiny_curriculum_and_evaluation_on_real_clips(esc50_meta, captions, tmp_path, capsys):
    from domains.audio.clap.text import CaptionTable

    table = CaptionTable.load(captions)
    assert len(table.blob["split"]["unseen"]) == 3 and len(table.blob["split"]["seen"]) == 3
    _train("plain", esc50_meta, captions, tmp_path)
    _train("stageA", esc50_meta, captions, tmp_path, tmp_path / "plain" / "model.pt")
    _train("stageB", esc50_meta, captions, tmp_path, tmp_path / "stageA" / "model.pt")
    for stage in ("plain", "stageA", "stageB"):
        run = json.loads((tmp_path / stage / "run.json").read_text())
        assert run["stage"] == stage and run["steps"] == 2 and run["train_clips"] == 3 * 4
        zeroshot.main(["--model", str(tmp_path / stage / "model.pt"), "--meta", str(esc50_meta), "--captions",
                       str(captions), "--out", str(tmp_path / stage / "eval.json"), "--hparams", HP])
    stageb = json.loads((tmp_path / "stageB" / "run.json").read_text())
    assert stageb["fractions"]["seq"] > 0
    stages = ("plain", "stageA", "stageB")
    clap_report.main(["--evals", *[str(tmp_path / s / "eval.json") for s in stages],
                      "--runs", *[str(tmp_path / s / "run.json") for s in stages],
                      "--metrics", str(tmp_path / "metrics.json"), "--confusion", str(tmp_path / "c.png"),
                      "--temporal", str(tmp_path / "t.png")])
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert list(m["stages"]) == list(stages)
    for s in stages:
        for key in ("zs_top1", "zs_top5", "a2t_r1", "t2a_r1", "temporal_acc"):
            assert 0.0 <= m["stages"][s][key] <= 1.0
    assert m["chance"]["zs_top1"] == pytest.approx(1 / 3) and m["chance"]["temporal_acc"] == 0.5
    assert m["chance"]["r1"] == pytest.approx(1 / 3)  # 3 unseen classes: 3 unordered pairs
    assert m["unseen_clips"] == 3 * 4 and "stageB_temporal_gain_over_plain" in m["questions"]
    for png in ("c.png", "t.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def _error(capsys, fn, args) -> str:
    with pytest.raises(SystemExit) as exc:
        fn(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_later_stage_without_previous_model_is_an_input_error(esc50_meta, captions, tmp_path, capsys):
    args = ["--stage", "stageB", "--meta", str(esc50_meta), "--captions", str(captions), "--out", str(tmp_path / "b"),
            "--hparams", HP, "--no-progress"]
    assert "--init" in _error(capsys, clap_train.main, args)
    line = _error(capsys, clap_train.main, args + ["--init", str(tmp_path / "nope.pt")])
    assert "nope.pt" in line
    assert not (tmp_path / "b" / "model.pt").exists() and not (tmp_path / "b" / "run.json").exists()


def test_missing_or_corrupt_inputs_name_the_file(esc50_meta, captions, tmp_path, capsys):
    line = _error(capsys, clap_train.main, ["--stage", "plain", "--meta", str(esc50_meta), "--captions",
                                            str(tmp_path / "none.pt"), "--out", str(tmp_path / "p"), "--hparams", HP])
    assert "none.pt" in line and "caption table" in line
    (tmp_path / "model.pt").write_bytes(b"\x00" * 100)
    line = _error(capsys, zeroshot.main, ["--model", str(tmp_path / "model.pt"), "--meta", str(esc50_meta),
                                          "--captions", str(captions), "--out", str(tmp_path / "eval.json")])
    assert "model.pt" in line and not (tmp_path / "eval.json").exists()
    line = _error(capsys, zeroshot.main, ["--model", str(tmp_path / "model.pt"), "--meta", str(esc50_meta),
                                          "--captions", str(captions), "--out", str(tmp_path / "eval.json"),
                                          "--hparams", "{not json"])
    assert "--hparams" in line
    line = _error(capsys, zeroshot.main, ["--model", str(tmp_path / "model.pt"), "--meta", str(esc50_meta),
                                          "--captions", str(captions), "--out", str(tmp_path / "eval.json"),
                                          "--hparams", json.dumps({"eval": {"temporal_pairs": 0}})])
    assert "temporal_pairs" in line


def test_caption_table_of_another_split_is_rejected(esc50_meta, captions, tmp_path, capsys):
    other = json.dumps({**TINY, "split": {"unseen_classes": 3, "max_classes": 6, "seed": 5}})
    line = _error(capsys, clap_train.main, ["--stage", "plain", "--meta", str(esc50_meta), "--captions", str(captions),
                                            "--out", str(tmp_path / "p"), "--hparams", other, "--no-progress"])
    assert "another class split" in line
