"""Run every training stage for a few steps on the CPU and, when there is one, on the GPU; print step times, the
device each run actually used and its precision.

    SSL_DATA_MIRROR=../shared/data python benchmarks/gpu_smoke.py [--workdir DIR] [--stages medical,code]

The stages' inputs are made first by the workflow itself on the tiny config (``snakemake --configfile
config/test.yaml <inputs>`` in ``--workdir``); each stage then runs through its own command line with
``--config config/test.yaml``, a few more steps than the tiny config (genomics: more epochs of the tokens'
steps), and ``--compute '{"accelerator": ...}'``.
The device and precision come from the stage's run file (``ssl_core.training.FitResult.as_json``), so a stage
that ignored the accelerator shows up as ``cpu`` in the GPU row. The results table of a GPU machine goes into
docs/cluster.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_CONFIG = REPO / "config" / "test.yaml"
PY = sys.executable

# stage -> (workflow targets that make its inputs, command line without --out/--compute, run file name)
STAGES: dict[str, tuple[list[str], list[str], str]] = {
    "medical": (["results/medical/ROSMAP/data.h5ad"],
                ["-m", "domains.medical.m3col.train", "--data", "results/medical/ROSMAP/data.h5ad", "--method", "m3col",
                 "--seed", "0", "--hparams", json.dumps({"train": {"epochs": 30, "val_every": 10}})], "run.json"),
    "genomics": (["results/genomics/tokens/tokens.json"],
                 ["-m", "domains.genomics.dnabert_s.train", "--tokens", "results/genomics/tokens",
                  "--hparams", json.dumps({"train": {"phase1_epochs": 3, "phase2_epochs": 3}})],
                 "run.json"),
    "code": (["results/code/corpus/train.jsonl", "results/code/tokenizer.json"],
             ["-m", "domains.code.cocosoda.train", "--corpus", "results/code/corpus", "--tokenizer", "results/code/tokenizer.json",
              "--variant", "cocosoda", "--hparams", json.dumps({"train": {"epochs": 2, "steps_per_epoch": 10}})],
             "run.json"),
    "audio_semisup": (["results/audio/features/fsdd.npz"],
                      ["-m", "domains.audio.semisup.train", "--features", "results/audio/features/fsdd.npz", "--dataset",
                       "fsdd", "--method", "fixmatch_mixup", "--fold", "0", "--seed", "0",
                       "--hparams", json.dumps({"train": {"steps": 20, "eval_every": 10}, "pretrain": {"steps": 0}})],
                      "result.json"),
    "audio_pretrain": (["results/audio/features/fsdd.npz"],
                       ["-m", "domains.audio.semisup.pretrain", "--features", "results/audio/features/fsdd.npz",
                        "--dataset", "fsdd", "--fold", "0", "--seed", "0",
                        "--hparams", json.dumps({"pretrain": {"steps": 20}})], "pretrain.json"),
    "audio_clap": (["resources/audio/esc50/meta.csv", "results/audio/clap/captions.pt"],
                   ["-m", "domains.audio.clap.train", "--stage", "plain", "--meta", "resources/audio/esc50/meta.csv",
                    "--captions", "results/audio/clap/captions.pt",
                    "--hparams", json.dumps({"train": {"stages": {"plain": {"steps": 20}}}})], "run.json"),
}


def _link_workflow(workdir: Path) -> None:
    for name in ("Snakefile", "workflows", "config", "envs", "report", "domains", "ssl_core"):
        if not (workdir / name).exists():
            (workdir / name).symlink_to(REPO / name)


def make_inputs(workdir: Path, stages: list[str]) -> None:
    targets = sorted({t for s in stages for t in STAGES[s][0]})
    snakemake = Path(PY).with_name("snakemake")
    cmd = [str(snakemake), *targets, "--cores", "all", "--configfile", str(TEST_CONFIG)]  # --configfile takes 1+
    env = dict(os.environ, PATH=f"{Path(PY).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(cmd, cwd=workdir, check=True, env=env)


def run_stage(workdir: Path, stage: str, accelerator: str) -> dict:
    _, args, run_file = STAGES[stage]
    out = workdir / "smoke" / f"{stage}_{accelerator}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [PY, *args, "--out", str(out), "--config", str(TEST_CONFIG), "--no-progress",
           "--compute", json.dumps({"accelerator": accelerator})]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"stage": stage, "asked": accelerator, "error": proc.stderr.strip().splitlines()[-1][:120]}
    run = json.loads((out / run_file).read_text())
    return {"stage": stage, "asked": accelerator, "device": run.get("device"), "precision": run.get("precision"),
            "step_ms": 1000 * run["step_seconds_mean"] if run.get("step_seconds_mean") else None,
            "fit_s": run.get("fit_seconds"), "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "gpu_smoke")
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {', '.join(STAGES)}")
    p.add_argument("--skip-inputs", action="store_true", help="the inputs exist in --workdir already")
    args = p.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise SystemExit(f"--stages: unknown {unknown}; known: {', '.join(STAGES)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    _link_workflow(args.workdir)
    if not args.skip_inputs:
        make_inputs(args.workdir, stages)
    import torch

    accelerators = ["cpu"] + (["gpu"] if torch.cuda.is_available() else [])
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"GPU: {gpu}; torch {torch.__version__}")
    print("| stage | asked | device used | precision | mean step (ms) | fit (s) | wall incl. start-up (s) |")
    print("|---|---|---|---|---|---|---|")
    for stage in stages:
        for acc in accelerators:
            r = run_stage(args.workdir, stage, acc)
            if "error" in r:
                print(f"| {stage} | {acc} | failed: {r['error']} | | | | |")
                continue
            step = f"{r['step_ms']:.1f}" if r["step_ms"] is not None else "-"
            print(f"| {stage} | {acc} | {r['device']} | {r['precision']} | {step} | {r['fit_s']:.1f} | "
                  f"{r['wall_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
