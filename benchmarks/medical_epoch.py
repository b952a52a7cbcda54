"""Time one M3CoL training epoch and a whole training run per data set; print a table.

    python benchmarks/medical_epoch.py [--mirror ../shared/data] [--epochs 60] [--threads 1 2] [--datasets ROSMAP TCGA-BRCA]

For each data set, width (our default 256 and the authors' 1000) and thread count, it trains through the real
stage code (``domains.medical.m3col.train.train_one``: Lightning, checkpoints, validation every 10 epochs) and reports
the median wall time of a training epoch, the whole fit, and the speed-up over the authors' code measured on this
kind of machine (0.8 s per ROSMAP epoch at best, 2.9 s under load). It runs on the GPU when one is visible.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from domains.medical.data.readers import load_dataset  # noqa: E402
from domains.medical.data.datasets import get_spec  # noqa: E402
from domains.medical.m3col.train import train_one  # noqa: E402
from ssl_core.config import deep_merge, resolve_section  # noqa: E402
from ssl_core.fetch import mirror_from_env  # noqa: E402

AUTHORS_EPOCH_SECONDS = 0.8  # best case seen here for the authors' code on ROSMAP (2.9 s under load)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mirror", default=None, help="data mirror (default $SSL_DATA_MIRROR or ../shared/data)")
    p.add_argument("--datasets", nargs="+", default=["ROSMAP", "TCGA-BRCA"])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--widths", nargs="+", type=int, default=[256, 1000])
    args = p.parse_args()
    mirror = mirror_from_env(args.mirror) or REPO.parent / "shared" / "data"
    rows = []
    for ds in args.datasets:
        adata = load_dataset(mirror / "medical" / ds, get_spec(ds))
        base = resolve_section(("medical",), None, None, ds)
        for width in args.widths:
            for threads in args.threads:
                hp = deep_merge(base, {"model": {"embed_dim": width, "head_dim": width},
                                       "train": {"epochs": args.epochs, "val_every": 10}})
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    run = train_one(adata, hp, seed=0, out=Path(tmp), threads=threads, progress=False)
                    total = time.perf_counter() - t0
                rows.append({
                    "dataset": ds, "width": width, "threads": threads, "device": run["device"],
                    "epoch_ms": 1000 * run["epoch_seconds_median"], "fit_s": run["fit_seconds"],
                    "total_s": total, "speedup_vs_authors": AUTHORS_EPOCH_SECONDS / run["epoch_seconds_median"],
                })
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(f"\nM3CoL training, {args.epochs} epochs, full-batch (fit rows: ROSMAP 196, TCGA-BRCA 430)\n")
    print("| data set | width | threads | device | epoch (ms, median) | fit (s) | stage total (s) | speed-up vs authors' 0.8 s/epoch |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['width']} | {r['threads']} | {r['device']} | {r['epoch_ms']:.1f} | {r['fit_s']:.1f} | "
              f"{r['total_s']:.1f} | {r['speedup_vs_authors']:.1f}x |")


if __name__ == "__main__":
    main()
