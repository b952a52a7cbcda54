"""Code-search figures: the MRR legend says how many steps each trained run had (ablations train fewer)."""

from __future__ import annotations

import json

from domains.code.cocosoda.figures import method_label, mrr_figure, training_steps


def test_training_steps_and_labels_come_from_run_json(tmp_path):
    runs = []
    for name, epochs in (("cocosoda", 15), ("no_sda", 2)):
        runs.append(tmp_path / f"{name}.json")
        runs[-1].write_text(json.dumps({"variant": name, "epochs": epochs, "steps_per_epoch": 400}))
    steps = training_steps(runs)
    assert steps == {"cocosoda": 6000, "no_sda": 800}
    assert method_label("cocosoda", steps) == "CoCoSoDa (6,000 steps)"
    assert method_label("no_sda", steps) == "w/o soft augmentation (800 steps)"
    assert method_label("bm25_split", steps) == "BM25 (identifiers split)"
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"benchmark": "b", "n_queries": 2, "n_candidates": 3,
                                   "rows": {"bm25": {"mrr": 0.2}, "cocosoda": {"mrr": 0.5}}}))
    mrr_figure([metrics], tmp_path / "mrr.png", steps)
    assert (tmp_path / "mrr.png").read_bytes()[:4] == b"\x89PNG"
