"""The workflow through a real SLURM cluster (snakemake-executor-plugin-slurm) with the users' profile.

One tiny run (ROSMAP and BRCA, 1 seed, 3 epochs; BRCA is fetched but not trained: files missing from the mirror)
goes through SLURM and the same run goes through `--cores 2`; the tests then check that every job was a SLURM job,
that training asked for a GPU and nothing else did, that both runs computed the same numbers, and that a second
invocation submits nothing.

The profile is profiles/slurm/config.yaml with exactly the changes in TEST_PROFILE_CHANGES (and nothing else;
test_test_profile_differs_only_where_documented checks that):
  - no `software-deployment-method: conda`: conda cannot be installed here (not in Debian 12, not on PyPI, and
    conda-forge is unreachable); the stages run with the Python environment on PATH instead (the venv), and the
    conda env files are checked statically by tests/test_envs.py;
  - `slurm-init-seconds-before-status-checks: 2` instead of the plugin's 40 s, so a tiny job is noticed quickly
    (the cluster's MinJobAge of 600 s stays far above the 3x the plugin needs for squeue).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.slurm.conftest import slurm_env

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
USER_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
DELETE = object()
TEST_PROFILE_CHANGES = {
    "software-deployment-method": DELETE,  # no conda on this machine (see the module docstring)
    "slurm-init-seconds-before-status-checks": 2,  # notice tiny jobs quickly
}
TINY = {"domains": ["medical"], "medical": {"datasets": ["ROSMAP", "BRCA"], "methods": ["m3col"], "seeds": [0],
                    "model": {"embed_dim": 8, "head_dim": 8},
                    "train": {"epochs": 3, "val_every": 1}}}
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
SBATCH = re.compile(r"^sbatch call: (sbatch .*?) --wrap=", re.M)
JOB_HEADER = re.compile(r"^(local)?(?:rule|checkpoint) (\w+):$", re.M)


def make_test_profile(path: Path) -> Path:
    """Write the users' profile with TEST_PROFILE_CHANGES applied into ``path``; return the directory."""
    profile = yaml.safe_load(USER_PROFILE.read_text())
    for key, value in TEST_PROFILE_CHANGES.items():
        if value is DELETE:
            profile.pop(key)
        else:
            profile[key] = value
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


def _workdir(path: Path) -> Path:
    """A fresh directory that links the workflow's files (a clean clone, in effect), with the tiny config."""
    path.mkdir(parents=True)
    for name in ("Snakefile", "workflows", "config", "envs", "report", "domains", "ssl_core"):
        (path / name).symlink_to(REPO / name)
    (path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    return path


def _start(workdir: Path, env: dict[str, str], *args: str, limit: int = 600) -> subprocess.Popen:
    """Start snakemake ARGS on the tiny config, under `timeout -k 30` (a hung status poller ignores SIGTERM)."""
    env = dict(env, PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    cmd = ["timeout", "-k", "30", str(limit), str(SNAKEMAKE), *args,
           "--configfile", str(REPO / "config" / "test.yaml"), "tiny.yaml"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir, env=env)
    proc.started = time.monotonic()
    proc.limit = limit
    return proc


def _finish(proc: subprocess.Popen) -> tuple[str, float]:
    """Wait for a _start()ed snakemake; return its output and wall time; fail on a non-zero exit."""
    try:
        out, _ = proc.communicate(timeout=proc.limit + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    seconds = time.monotonic() - proc.started
    assert proc.returncode == 0, f"snakemake exited {proc.returncode}:\n{out[-6000:]}"
    return out, seconds


def _squeue(env: dict[str, str]) -> dict[str, dict[str, str]]:
    """Every job slurmctld still knows (MinJobAge=600): id -> {comment, state}."""
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i|%k|%T"], capture_output=True, text=True, env=env,
                         check=True, timeout=30).stdout
    return {i: {"comment": k, "state": t} for i, k, t in (line.split("|") for line in out.splitlines())}


@pytest.fixture(scope="module")
def runs(mirror, slurm_cluster, tmp_path_factory):
    """The tiny workflow through SLURM, then again (must submit nothing), and locally with --cores 2."""
    base = tmp_path_factory.mktemp("slurm-runs")
    env = slurm_env(slurm_cluster, SSL_DATA_MIRROR=str(mirror))
    profile = make_test_profile(base / "profile")
    out = {"env": env}

    sl, local = _workdir(base / "slurm"), _workdir(base / "local")
    # The local reference run goes alongside the SLURM run (which mostly waits on the scheduler) to save time.
    reference = _start(local, env, "--cores", "2")
    try:
        out["slurm_log"], out["slurm_seconds"] = _finish(_start(sl, env, "--profile", str(profile), "--verbose"))
    except BaseException:
        reference.terminate()  # `timeout` passes SIGTERM on to snakemake
        try:
            reference.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            reference.kill()
        raise
    _, out["local_seconds"] = _finish(reference)
    out["slurm"], out["local"] = sl, local
    out["jobs_after_first"] = _squeue(env)
    out["second_log"], out["second_seconds"] = _finish(_start(sl, env, "--profile", str(profile), "--verbose"))
    out["jobs_after_second"] = _squeue(env)
    print(f"\nSLURM run {out['slurm_seconds']:.0f} s (a local run alongside), "
          f"second SLURM invocation {out['second_seconds']:.0f} s")
    return out


def test_test_profile_differs_only_where_documented(tmp_path):
    user = yaml.safe_load(USER_PROFILE.read_text())
    test = yaml.safe_load((make_test_profile(tmp_path) / "config.yaml").read_text())
    changed = {k for k in user.keys() | test.keys() if user.get(k, DELETE) != test.get(k, DELETE)}
    assert changed == set(TEST_PROFILE_CHANGES)
    assert "software-deployment-method" not in test
    # What users get: the SLURM executor polling with squeue, conda envs, resources that grow with the attempt,
    # a GPU for training only, and partition/account in one place.
    assert user["executor"] == "slurm" and user["slurm-status-command"] == "squeue"
    assert user["software-deployment-method"] == "conda"
    assert user["retries"] >= 1
    assert {"slurm_partition", "slurm_account", "mem_mb", "runtime", "cpus_per_task"} <= set(user["default-resources"])
    for rule, res in user["set-resources"].items():
        assert "attempt" in str(res["mem_mb"]) and "attempt" in str(res["runtime"]), rule
        assert ("gpu" in res) == rule.endswith("_train"), rule


def test_every_job_went_through_slurm(runs):
    log = runs["slurm_log"]
    ran = [name for local, name in JOB_HEADER.findall(log) if not local]
    submitted = SUBMITTED.findall(log)
    assert len(ran) >= 6 and len(submitted) == len(ran), (ran, submitted)
    assert "localrule all:" in log and not [n for local, n in JOB_HEADER.findall(log) if local and n != "all"]
    jobs = runs["jobs_after_first"]
    for _, slurm_id, slurm_log in submitted:
        assert jobs[slurm_id]["state"] == "COMPLETED", (slurm_id, jobs.get(slurm_id))
        assert jobs[slurm_id]["comment"].startswith("rule_medical_")
        # (the plugin deletes the logs of successful jobs unless --slurm-keep-successful-logs)
        assert slurm_log.startswith(str(runs["slurm"] / ".snakemake/slurm_logs/rule_medical_"))
    assert "command=squeue" in log and "command=sacct" not in log


def test_training_requests_a_gpu_and_other_stages_do_not(runs):
    calls = SBATCH.findall(runs["slurm_log"])
    assert len(calls) == len(SUBMITTED.findall(runs["slurm_log"]))
    by_rule = [(re.search(r"--comment (rule_\w+?)(?:_wildcards_\S+)? ", c).group(1), c) for c in calls]
    assert {"rule_medical_fetch", "rule_medical_prepare", "rule_medical_train", "rule_medical_evaluate"} <= {
        rule for rule, _ in by_rule}
    for rule, call in by_rule:
        wants_gpu = "--gpus=" in call or "--gres=gpu" in call
        assert wants_gpu == rule.endswith("_train"), call
        assert "-p main" in call  # the cluster's default partition, found by the plugin ("" in the profile)
    # SLURM itself recorded the request: TresPerJob=gres:gpu:1 for training jobs only.
    env = runs["env"]
    for _, slurm_id, slurm_log in SUBMITTED.findall(runs["slurm_log"]):
        show = subprocess.run(["scontrol", "show", "job", slurm_id], capture_output=True, text=True, env=env,
                              check=True, timeout=30).stdout
        assert ("gres:gpu:1" in show) == ("rule_medical_train" in slurm_log), show


def _json_without_timings(path: Path):
    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if "seconds" not in k}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return strip(json.loads(path.read_text()))


def test_outputs_equal_a_local_run(runs):
    sl, local = runs["slurm"], runs["local"]
    same_bytes = ["results/medical/table.tsv", "results/medical/ROSMAP/m3col/seed0/predictions.tsv",
                  "results/medical/ROSMAP/m3col/seed0/history.csv"]
    for rel in same_bytes:
        assert (sl / rel).read_bytes() == (local / rel).read_bytes(), rel
    for rel in ("results/medical/ROSMAP/m3col/metrics.json", "results/medical/ROSMAP/m3col/seed0/run.json"):
        assert _json_without_timings(sl / rel) == _json_without_timings(local / rel), rel
    run = json.loads((sl / "results/medical/ROSMAP/m3col/seed0/run.json").read_text())
    assert run["epochs"] == 3 and 0 <= run["metrics"]["accuracy"] <= 1
    rows = list(csv.DictReader((sl / "results/medical/table.tsv").open(), delimiter="\t"))
    assert any(r["dataset"] == "ROSMAP" and r["method"] == "M3CoL (ours)" for r in rows)


def test_second_invocation_submits_nothing(runs):
    log = runs["second_log"]
    assert "Nothing to be done" in log
    assert not SUBMITTED.search(log) and "sbatch call" not in log
    assert runs["jobs_after_second"] == runs["jobs_after_first"]
