"""The genomics workflow as a user runs it: their own sample sheet of real genomes, tiny config, every output; then
a forced rerun of the training job and a rerun after a training setting is edited."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from tests.conftest import REPO
from tests.faults import restarted_with_reason
from tests.genomics.conftest import TINY
from tests.test_workflow import _snakemake

# Six small real genomes (ant endosymbionts, ~0.7-0.8 Mbp), five species labels.
GENOMES = {
    "pyani__GCF_000011745.1.fa.gz": "Candidatus Blochmannia pennsylvanicus",
    "pyani__GCF_023016305.1.fa.gz": "Candidatus Blochmannia pennsylvanicus",
    "pyani__GCF_000043285.1.fa.gz": "Candidatus Blochmannia floridanus",
    "pyani__GCF_000185985.2.fa.gz": "Candidatus Blochmannia vafer",
    "pyani__GCF_000331065.1.fa.gz": "Candidatus Blochmannia chromaiodes",
    "pyani__GCF_000973505.1.fa.gz": "Blochmannia endosymbiont of Polyrhachis turneri",
}


def _sheet(tmp_path, mirror):
    src = mirror / "genomics" / "genomes"
    if not src.is_dir():
        pytest.skip("mirror has no genomics/genomes")
    d = tmp_path / "my_genomes"
    d.mkdir()
    for f in GENOMES:
        shutil.copyfile(src / f, d / f)
    (d / "samples.tsv").write_text("file\tspecies\n" + "".join(f"{f}\t{s}\n" for f, s in GENOMES.items()))
    return d / "samples.tsv"


def _config(tmp_path, sheet):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"domains": ["genomics"], "genomics": {**TINY, "sample_sheet": str(sheet)}}))
    return cfg


@pytest.mark.slow
def test_genomics_tiny_run_end_to_end_with_user_sample_sheet(tmp_path, mirror):
    cfg = _config(tmp_path, _sheet(tmp_path, mirror))
    proc = _snakemake(tmp_path, "--cores", "2", "--configfile", str(cfg), mirror=mirror, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((tmp_path / "results/genomics/metrics.json").read_text())
    for key in ("ari_kmeans", "ari_leiden", "few_shot", "binning_count"):
        assert key in m and key in m["tnf"] and key in m["random_init"]
    assert -1 <= m["ari_kmeans"] <= 1 and set(m["few_shot"]) == {"1", "2", "5"} and m["n_species"] == 2
    table = (tmp_path / "results/genomics/table.tsv").read_text().splitlines()
    assert len(table) == 4 and table[0].startswith("method\tkey\tari_kmeans")
    for fig in ("umap.png", "ari.png", "few_shot.png"):
        assert (tmp_path / "results/genomics/figures" / fig).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "resources/genomics").exists()  # a user sheet needs no fetch
    again = _snakemake(tmp_path, "-n", "--configfile", str(cfg), mirror=mirror)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    # snakemake -f on the training job: its finished checkpoint is not resumed, the job trains again from scratch
    # to the same weights and loss, and the outputs that depend on it stay.
    train, log = tmp_path / "results/genomics/train", tmp_path / "logs/genomics/train.log"
    first = _trained(train)
    forced = _snakemake(tmp_path, "-f", "results/genomics/train/run.json", "--cores", "2", "--configfile", str(cfg),
                        mirror=mirror, timeout=300)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "belongs to a finished run" in log.read_text()
    assert _same(_trained(train), first)
    assert (tmp_path / "results/genomics/metrics.json").is_file()
    assert (tmp_path / "results/genomics/figures/umap.png").is_file()

    # An edited training setting: the job reruns, trains from scratch (its log names the key) and ends where the
    # stage's command line run with the new setting into a fresh directory ends.
    edit = tmp_path / "lr.yaml"
    edit.write_text(yaml.safe_dump({"genomics": {"train": {"lr": 0.002}}}))
    edited = _snakemake(tmp_path, "results/genomics/train/run.json", "--cores", "2", "--configfile", str(cfg),
                        str(edit), mirror=mirror, timeout=300)
    assert edited.returncode == 0, edited.stderr[-3000:]
    assert restarted_with_reason(log, "train.lr")
    direct = subprocess.run([sys.executable, "-m", "domains.genomics.dnabert_s.train", "--tokens",
                             str(tmp_path / "results/genomics/tokens"), "--out", str(tmp_path / "direct"), "--config",
                             str(cfg), "--config", str(edit), "--threads", "1", "--no-progress"],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert direct.returncode == 0, direct.stderr[-2000:]
    assert _same(_trained(train), _trained(tmp_path / "direct")) and not _same(_trained(train), first)

    # An evaluation setting is not read by training: its edit reruns the evaluation only.
    knn = tmp_path / "knn.yaml"
    knn.write_text(yaml.safe_dump({"genomics": {"eval": {"knn": 4}}}))
    plan = _snakemake(tmp_path, "-n", "--configfile", str(cfg), str(edit), str(knn), mirror=mirror)
    assert plan.returncode == 0 and "genomics_evaluate" in plan.stdout and "genomics_train" not in plan.stdout


def _trained(train_dir):
    """The trained encoder's weights and the run's final loss."""
    state = torch.load(train_dir / "encoder.pt", weights_only=True)["state_dict"]
    return state, json.loads((train_dir / "run.json").read_text())["final_loss"]


def _same(a, b) -> bool:
    return a[1] == b[1] and a[0].keys() == b[0].keys() and all(torch.equal(a[0][k], b[0][k]) for k in a[0])


def test_genomics_sheet_naming_missing_file_fails_with_one_line(tmp_path, mirror):
    sheet = _sheet(tmp_path, mirror)
    (sheet.parent / "pyani__GCF_000043285.1.fa.gz").unlink()
    cfg = _config(tmp_path, sheet)
    proc = _snakemake(tmp_path, "results/genomics/data/fragments.npz", "--cores", "1", "--configfile", str(cfg),
                      mirror=mirror, timeout=200)
    assert proc.returncode != 0
    log = (tmp_path / "logs/genomics/preprocess.log").read_text().strip().splitlines()
    assert log[0] == f"source: {REPO / 'domains/genomics/data/preprocess.py'}"  # the stage file that ran
    assert log[1:] == [f"error: {sheet}: line 4: file 'pyani__GCF_000043285.1.fa.gz' not found "
                   f"({sheet.parent / 'pyani__GCF_000043285.1.fa.gz'})"]
    assert not (tmp_path / "results/genomics/data/fragments.npz").exists()


def test_dry_run_with_genomics_domain_and_unsafe_sheet_path(tmp_path):
    proc = _snakemake(tmp_path, "-n", "--config", "domains=[medical,genomics]")
    assert proc.returncode == 0, proc.stderr
    assert "genomics_fetch" in proc.stdout and "genomics_figures" in proc.stdout
    bad = _snakemake(tmp_path, "-n", "--config", "domains=[genomics]", "genomics={'sample_sheet': 'x;rm.tsv'}")
    assert bad.returncode != 0 and "genomics" in bad.stdout + bad.stderr
