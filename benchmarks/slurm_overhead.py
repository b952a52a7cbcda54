"""What does SLURM cost per job? N independent training jobs (N seeds of the medical pipeline on ROSMAP, tiny
model) run once locally (`snakemake --cores 2`) and once through a SLURM cluster with snakemake-executor-plugin-slurm
and the test profile (profiles/slurm with the changes documented in tests/slurm/test_slurm.py). Prints a table.

    SSL_DATA_MIRROR=/path/to/shared/data python benchmarks/slurm_overhead.py [--seeds 4] [--epochs 3]

Uses the cluster SLURM_CONF points to if it answers; otherwise starts one with tests/slurm/start.sh (root) and stops
it afterwards. The data set is fetched and prepared once, locally, before either timed run: only the N training jobs
are timed. Status queries are counted by a `squeue` wrapper placed first on PATH (every squeue call Snakemake and the
plugin make) and read from the plugin's own summary ("Status query timing summary at shutdown: calls=...").
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from tests.slurm.test_slurm import make_test_profile  # noqa: E402

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
LINKS = ("Snakefile", "workflows", "config", "envs", "report", "domains", "ssl_core")


def snakemake(workdir: Path, env: dict[str, str], *args: str, limit: int = 900) -> tuple[str, float]:
    cmd = ["timeout", "-k", "30", str(limit), str(SNAKEMAKE), *args,
           "--configfile", str(REPO / "config" / "test.yaml"), "tiny.yaml"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return proc.stdout + proc.stderr, seconds


def cluster_up(env: dict[str, str]) -> bool:
    if not env.get("SLURM_CONF") or shutil.which("sinfo") is None:
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True, timeout=30)
    return proc.returncode == 0 and "idle" in proc.stdout


def job_times(env: dict[str, str], ids: list[str]) -> list[dict[str, datetime]]:
    """SubmitTime, StartTime, EndTime of each SLURM job (1 s resolution; slurmctld keeps them for MinJobAge)."""
    out = []
    for job in ids:
        show = subprocess.run(["scontrol", "show", "job", job], env=env, capture_output=True, text=True).stdout
        out.append({k: datetime.fromisoformat(v) for k, v in re.findall(r"(SubmitTime|StartTime|EndTime)=(\S+)", show)})
    return out


def covered_seconds(times: list[dict[str, datetime]]) -> float:
    """Seconds during which at least one job was running (union of [StartTime, EndTime])."""
    total, end = 0.0, None
    for t in sorted(times, key=lambda t: t["StartTime"]):
        start = t["StartTime"] if end is None else max(t["StartTime"], end)
        if end is None or t["EndTime"] > start:
            total += (t["EndTime"] - start).total_seconds()
        end = t["EndTime"] if end is None else max(end, t["EndTime"])
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=4, help="number of independent training jobs (seeds)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    args = ap.parse_args()

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    started = None
    if not cluster_up(env):
        started = Path(tempfile.mkdtemp(prefix="ssl-slurm-"))
        proc = subprocess.run(["bash", str(REPO / "tests/slurm/start.sh"), str(started)], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            subprocess.run(["bash", str(REPO / "tests/slurm/stop.sh"), str(started)], capture_output=True)
            sys.exit(f"could not start a SLURM cluster:\n{proc.stderr}")
        env["SLURM_CONF"] = str(started / "slurm.conf")
    base = Path(tempfile.mkdtemp(prefix="slurm-overhead-"))
    try:
        seeds = list(range(args.seeds))
        prepared = base / "prepared"
        prepared.mkdir()
        for name in LINKS:
            (prepared / name).symlink_to(REPO / name)
        (prepared / "tiny.yaml").write_text(yaml.safe_dump({"medical": {
            "datasets": ["ROSMAP"], "seeds": seeds, "model": {"embed_dim": 8, "head_dim": 8},
            "train": {"epochs": args.epochs, "val_every": 1}}}))
        snakemake(prepared, env, "--cores", "2", "results/medical/ROSMAP/data.h5ad")
        targets = [f"results/medical/ROSMAP/seed{s}/run.json" for s in seeds]

        # A squeue that logs each call, first on PATH.
        wrap = base / "bin"
        wrap.mkdir()
        calls = base / "squeue.calls"
        real = shutil.which("squeue")
        (wrap / "squeue").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n')
        (wrap / "squeue").chmod(0o755)

        rows = []
        local = base / "local"
        shutil.copytree(prepared, local, symlinks=True)
        _, wall_local = snakemake(local, env, "--cores", "2", *targets)
        rows.append(("local --cores 2", wall_local, 0.0, "-", "-", "-", "-", "-"))

        remote = base / "slurm"
        shutil.copytree(prepared, remote, symlinks=True)
        profile = make_test_profile(base / "profile")
        slurm_env = dict(env, PATH=f"{wrap}{os.pathsep}{env['PATH']}")
        log, wall_slurm = snakemake(remote, slurm_env, "--profile", str(profile), "--verbose", *targets)
        ids = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
        assert len(ids) == len(seeds), ids
        times = job_times(env, ids)
        inside = [(t["EndTime"] - t["StartTime"]).total_seconds() for t in times]
        queued = [(t["StartTime"] - t["SubmitTime"]).total_seconds() for t in times]
        idle = wall_slurm - covered_seconds(times)
        plugin_calls = re.search(r"Status query timing summary at shutdown: calls=(\d+)", log)
        wrapper_calls = len(calls.read_text().splitlines()) if calls.exists() else 0
        rows.append(("SLURM (plugin, squeue)", wall_slurm, (wall_slurm - wall_local) / len(seeds),
                     f"{sum(inside) / len(inside):.1f}", f"{sum(queued) / len(queued):.1f}", f"{idle:.0f}",
                     plugin_calls.group(1) if plugin_calls else "?", str(wrapper_calls)))

        load = os.getloadavg()[0]
        print(f"\n{len(seeds)} independent training jobs (ROSMAP, seeds 0-{len(seeds) - 1}, {args.epochs} epochs), "
              f"{os.cpu_count()} CPUs, load average {load:.1f} at the end")
        head = ("run", "wall s", "overhead s/job", "mean s inside a job", "mean s queued", "s with no job running",
                "status queries (plugin)", "squeue calls")
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for name, wall, per_job, *rest in rows:
            print(f"| {name} | {wall:.1f} | {per_job:.1f} | " + " | ".join(rest) + " |")
        print("\noverhead s/job = (SLURM wall - local wall) / jobs. SLURM times are from scontrol (1 s resolution): "
              "inside a job = EndTime - StartTime, including the two Snakemake start-ups each job makes (sbatch, "
              "srun); queued = StartTime - SubmitTime; no job running = wall time outside the union of the jobs' "
              "[StartTime, EndTime] (Snakemake start-up, status polling, submissions).")
    finally:
        if started is not None:
            subprocess.run(["bash", str(REPO / "tests/slurm/stop.sh"), str(started)], capture_output=True)
        if args.keep:
            print(f"work directories kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
