"""The workflow used as a Snakemake ``module`` from a user's own directory, on the user's own data: a copy of the
workflow placed elsewhere, a user Snakefile holding only the ``module`` block, a config naming the user's medical
cohort (4 views, 3 classes, a sample sheet). Every stage must run the copy's code (its log names the file it ran),
write under the user's directory, produce metrics, table and figures, and give the metrics of the same run inside
the repository."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import yaml

from tests.conftest import REPO
from tests.medical.test_user_data import make_user_dataset
from tests.test_workflow import SNAKEMAKE, _env, _snakemake

SOURCE = ("Snakefile", "workflows", "config", "envs", "report", "domains", "ssl_core")


def _tiny(sheet: Path) -> dict:
    return {"domains": ["medical"],
            "medical": {"datasets": ["mycohort"], "user_datasets": {"mycohort": str(sheet)}, "seeds": [0],
                        "model": {"embed_dim": 8, "head_dim": 8}, "train": {"epochs": 3, "val_every": 1},
                        "mogonet": {"hidden_dims": [8], "pretrain_epochs": 2, "epochs": 3}}}

USER_SNAKEFILE = """\
configfile: "config.yaml"

module ssl:
    snakefile: "{snakefile}"
    config: config["ssl"]

use rule * from ssl as ssl_*
"""


def _copy_workflow(dest: Path) -> Path:
    """The workflow's source tree copied to ``dest`` (as a user's clone elsewhere), without byte-code caches."""
    for name in SOURCE:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _metrics(results: Path) -> dict[str, dict]:
    """Every metrics.json under ``results/medical``, timings left out (they differ between any two runs)."""
    out = {}
    for path in sorted(results.glob("medical/*/*/metrics.json")):
        data = json.loads(path.read_text())
        out[str(path.relative_to(results))] = {k: v for k, v in data.items() if "seconds" not in k}
    return out


def test_user_cohort_through_the_workflow_as_a_module_runs_the_copy_and_matches_the_repository_run(tmp_path):
    copy = _copy_workflow(tmp_path / "elsewhere" / "ssl-workflows")
    tiny = _tiny(make_user_dataset(tmp_path / "cohort"))
    user = tmp_path / "project"
    user.mkdir()
    (user / "Snakefile").write_text(USER_SNAKEFILE.format(snakefile=copy / "Snakefile"))
    (user / "config.yaml").write_text(yaml.safe_dump({"ssl": tiny}))

    proc = subprocess.run([str(SNAKEMAKE), "--cores", "2", "ssl_all"], capture_output=True, text=True, cwd=user,
                          env=_env(None), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Outputs under the user's directory, none in the copy: the table has both methods on the cohort.
    table = pd.read_csv(user / "results/medical/table.tsv", sep="\t")
    assert set(table.method) == {"M3CoL (ours)", "MOGONET (ours)", "logistic regression (ours)"}
    assert set(table.dataset) == {"mycohort"}
    assert table.f1_macro.between(0, 1).all()  # three classes: weighted and macro F1, no AUC
    for fig in ("metrics_vs_paper.png", "training_curves.png", "accuracy_per_seed.png", "table_vs_paper.png"):
        assert (user / "results/medical/figures" / fig).read_bytes()[:4] == b"\x89PNG"
    assert not (copy / "results").exists()
    # Every job's log names the stage file it ran: the copy's, never the repository's (the installed project).
    logs = sorted((user / "logs").rglob("*.log"))
    assert len(logs) >= 6
    for log in logs:
        sources = [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.startswith("source: ")]
        assert sources, f"{log.relative_to(user)} names no source"
        assert all(Path(s).is_relative_to(copy / "domains") for s in sources), (log, sources)

    # The same config run inside the repository: the same metrics.
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    ref = _snakemake(inside, "--cores", "2", "--configfile", str(inside / "tiny.yaml"))
    assert ref.returncode == 0, ref.stderr[-3000:]
    ours, theirs = _metrics(user / "results"), _metrics(inside / "results")
    assert set(ours) == {f"medical/mycohort/{m}/metrics.json" for m in ("m3col", "mogonet", "logreg")}
    assert ours == theirs

    # An edited view file of the cohort: its check, preparation and everything after run again.
    rna = tmp_path / "cohort" / "rna.csv"
    frame = pd.read_csv(rna, index_col=0)
    frame.iloc[0, 0] += 1.0
    frame.to_csv(rna)
    again = _snakemake(inside, "-n", "--configfile", str(inside / "tiny.yaml"))
    assert again.returncode == 0, again.stderr[-2000:]
    planned = again.stdout + again.stderr
    assert all(f"{rule} " in planned for rule in ("medical_fetch", "medical_table")), planned
    # (the jobs between them hang on the fetch checkpoint in a dry run; asked for directly, they are planned)
    again = _snakemake(inside, "-n", "results/medical/mycohort/m3col/metrics.json", "--configfile",
                       str(inside / "tiny.yaml"))
    planned = again.stdout + again.stderr
    assert all(f"{rule} " in planned for rule in ("medical_prepare", "medical_train", "medical_evaluate")), planned


def test_a_module_config_typo_fails_with_one_line(tmp_path):
    user = tmp_path / "project"
    user.mkdir()
    (user / "Snakefile").write_text(USER_SNAKEFILE.format(snakefile=REPO / "Snakefile"))
    (user / "config.yaml").write_text(yaml.safe_dump({"ssl": {"domains": ["medical"], "medicl": {}}}))
    proc = subprocess.run([str(SNAKEMAKE), "-n", "ssl_all"], capture_output=True, text=True, cwd=user, env=_env(None),
                          timeout=300)
    assert proc.returncode != 0
    assert "config: (top level): unknown key ('medicl' was unexpected)" in proc.stdout + proc.stderr
