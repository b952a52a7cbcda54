"""Kill M3CoL training at random points K times (SIGKILL or SIGTERM), resume each time, and report the work lost
per kill (optimiser steps done after the checkpoint that the resume starts from) and whether the final metrics
equal those of an uninterrupted run with the same seed.

    python benchmarks/faults.py [--kills 5] [--signal KILL] [--epochs 600] [--checkpoint-every 10]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from domains.medical.data.readers import load_dataset  # noqa: E402
from domains.medical.data.datasets import get_spec  # noqa: E402
from ssl_core.fetch import mirror_from_env  # noqa: E402


def _cmd(data: Path, out: Path, hp: str) -> list[str]:
    return [sys.executable, "-m", "domains.medical.m3col.train", "--data", str(data), "--seed", "0", "--out", str(out),
            "--no-progress", "--hparams", hp]


def _steps_logged(out: Path) -> int:
    """Optimiser steps the killed process had finished (one step per epoch: full-batch training)."""
    log = out / "logs" / "metrics.csv"
    if not log.exists():
        return 0
    frame = pd.read_csv(log)
    return int(frame["step"].max()) + 1 if len(frame) else 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--signal", choices=["KILL", "TERM"], default="KILL")
    p.add_argument("--epochs", type=int, default=600)
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    p.add_argument("--mirror", default=None)
    args = p.parse_args()
    rng = random.Random(args.seed)
    hp = json.dumps({"model": {"embed_dim": 64, "head_dim": 64},
                     "train": {"epochs": args.epochs, "checkpoint_every": args.checkpoint_every}})
    mirror = mirror_from_env(args.mirror) or REPO.parent / "shared" / "data"
    sig = getattr(signal, f"SIG{args.signal}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data.h5ad"
        load_dataset(mirror / "medical" / "ROSMAP", get_spec("ROSMAP")).write_h5ad(data)
        t0 = time.perf_counter()
        subprocess.run(_cmd(data, tmp / "ref", hp), check=True, capture_output=True, cwd=REPO)
        ref_seconds = time.perf_counter() - t0
        reference = json.loads((tmp / "ref" / "run.json").read_text())["metrics"]
        out = tmp / "killed"
        rows = []
        for k in range(args.kills):
            proc = subprocess.Popen(_cmd(data, out, hp), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while not (out / "checkpoints" / "last.ckpt").exists() or _steps_logged(out) <= (rows[-1]["killed_at"] if rows else 0):
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.5))
            if proc.poll() is not None:
                print(f"kill {k + 1}: training finished before the kill; stopping early", file=sys.stderr)
                break
            proc.send_signal(sig)
            proc.wait()
            killed_at = _steps_logged(out)
            resumed_from = int(torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"])
            rows.append({"kill": k + 1, "killed_at": killed_at, "resumes_from": resumed_from,
                         "lost_steps": max(0, killed_at - resumed_from)})
        t0 = time.perf_counter()
        subprocess.run(_cmd(data, out, hp), check=True, capture_output=True, cwd=REPO)
        final = json.loads((out / "run.json").read_text())["metrics"]
    print(f"\nM3CoL on ROSMAP, {args.epochs} epochs (1 step each), checkpoint every {args.checkpoint_every} epochs, "
          f"SIG{args.signal}; uninterrupted run {ref_seconds:.1f} s\n")
    print("| kill | steps done when killed | resumes from step | steps recomputed |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['kill']} | {r['killed_at']} | {r['resumes_from']} | {r['lost_steps']} |")
    lost = [r["lost_steps"] for r in rows]
    if lost:
        print(f"\nmean steps recomputed per kill: {sum(lost) / len(lost):.1f} (bound: {args.checkpoint_every})")
    print(f"final metrics equal to the uninterrupted run: {final == reference}  ({final})")


if __name__ == "__main__":
    main()
