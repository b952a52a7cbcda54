"""The metric workflow through snakemake with `--config 'domains=[metric]'`: the DAG pulls in the audio and
genomics rules it needs; a tiny run from their (synthetic) outputs writes every result; lint stays clean."""

from __future__ import annotations

import csv
import json
import os
import time

import pytest
import yaml

from tests.metric.conftest import TINY, write_esc50, write_fragments
from tests.test_workflow import _snakemake


def test_dry_run_pulls_in_audio_and_genomics_rules(tmp_path):
    proc = _snakemake(tmp_path, "-n", "--config", "domains=[metric]")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for rule in ("audio_prepare", "genomics_preprocess", "metric_data", "metric_train", "metric_evaluate",
                 "metric_table", "metric_figures"):
        assert rule in proc.stdout, rule
    assert "metric_tune" not in proc.stdout  # the choice grid is a separate command
    bad = _snakemake(tmp_path, "-n", "--config", "domains=[metric]", "metric={'seeds': [-1]}")
    assert bad.returncode != 0 and "config: metric" in bad.stdout + bad.stderr


@pytest.mark.slow
def test_metric_tiny_run_end_to_end(tmp_path):
    # upstream inputs and outputs as the audio and genomics rules leave them (inputs older than outputs)
    for f in ("resources/audio/esc50/meta.csv", "resources/audio/esc50.fetch.json",
              "resources/genomics/genomes/samples.tsv", "resources/genomics/genomes.fetch.json"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("x\n")
        os.utime(tmp_path / f, (time.time() - 100, time.time() - 100))
    write_esc50(tmp_path / "results/audio/features/esc50.npz", classes=6, per_class=4)
    write_fragments(tmp_path / "results/genomics/data/fragments.npz")
    (tmp_path / "results/genomics/data/split.json").write_text("{}\n")
    cfg = tmp_path / "tiny.yaml"
    metric = {**TINY, "seeds": [0, 1], "losses": ["contrastive", "proxy_anchor"], "compare": ["imix"]}
    metric.pop("tune")
    cfg.write_text(yaml.safe_dump({"domains": ["metric"], "metric": metric}))
    proc = _snakemake(tmp_path, "--cores", "2", "--configfile", str(cfg), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "audio_prepare" not in proc.stdout + proc.stderr  # its output was up to date
    m = json.loads((tmp_path / "results/metric/esc50/metrics.json").read_text())
    assert m["seeds"] == [0, 1]
    assert set(m["methods"]) == {"untrained", "contrastive", "contrastive + Metrix/input",
                                 "contrastive + Metrix/feature", "contrastive + Metrix/embed", "proxy anchor",
                                 "proxy anchor + Metrix/input", "proxy anchor + Metrix/feature",
                                 "proxy anchor + Metrix/embed", "contrastive + i-Mix"}
    species = json.loads((tmp_path / "results/metric/species/metrics.json").read_text())
    assert "TNF" in species["methods"]
    rows = list(csv.DictReader((tmp_path / "results/metric/table.tsv").open(), delimiter="\t"))
    assert {r["dataset"] for r in rows} == {"esc50", "species", "CUB-200"}
    for fig in ("recall_at_k.png", "projection.png"):
        assert (tmp_path / "results/metric/figures" / fig).stat().st_size > 1000
    again = _snakemake(tmp_path, "-n", "--configfile", str(cfg))
    assert "Nothing to be done" in again.stdout + again.stderr
