"""Forward+backward time and peak memory of ssl_core's contrastive losses against pytorch-metric-learning and
lightly, at equal inputs.

    python benchmarks/core_losses.py                       # default sweep (CPU here: a few minutes)
    python benchmarks/core_losses.py --device cuda --batch-sizes 256,1024,4096 --dims 128,256,768
    pip install -e '.[bench]'                              # the competitors (skipped with a note if missing)

Pairs compared (same embeddings, same temperature, values checked to agree):

* NT-Xent  -- ssl_core.nt_xent | pml NTXentLoss (2B embeddings, labels = sample index) | lightly NTXentLoss
* SupCon   -- ssl_core.nt_xent(labels=) | pml SupConLoss
* DCL      -- ssl_core.dcl_loss | lightly DCLLoss

Time: median of ``--repeats`` forward+backward passes after one warm-up (``torch.cuda.synchronize`` on GPU).
Peak memory: on GPU ``torch.cuda.max_memory_allocated`` minus the allocation before the step. On CPU the growth of
the resident set during the step: the kernel's high-water mark is reset (``/proc/self/clear_refs``) before the step
and ``VmHWM - VmRSS(before)`` is read after it; the script re-executes itself with ``MALLOC_MMAP_THRESHOLD_=65536``
so that freed tensors go back to the kernel and the number is the peak of live buffers, not of malloc's cache.
It is Linux-only; elsewhere the CPU memory column says n/a. The B x B similarity matrix is printed for scale:
a loss whose memory grows like B x B x D would show ratios that grow with D.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import types
from collections.abc import Callable

import torch

import ssl_core

TEMPERATURE = 0.5


# ------------------------------------------------------------------------------------------- competitors
def _load_pml() -> dict[str, Callable] | str:
    try:
        from pytorch_metric_learning.losses import NTXentLoss, SupConLoss
    except ImportError as e:  # pragma: no cover - depends on the environment
        return f"pytorch-metric-learning not installed ({e.__class__.__name__}: {e})"
    ntx, sup = NTXentLoss(temperature=TEMPERATURE), SupConLoss(temperature=TEMPERATURE)

    def pml_ntxent(z1, z2, labels):
        idx = torch.arange(z1.shape[0], device=z1.device)
        return ntx(torch.cat([z1, z2]), torch.cat([idx, idx]))

    def pml_supcon(z1, z2, labels):
        return sup(torch.cat([z1, z2]), torch.cat([labels, labels]))

    return {"NT-Xent": pml_ntxent, "SupCon": pml_supcon}


def _import_lightly_losses():
    """lightly.loss imports torchvision through its package __init__; the two loss modules do not need it.

    When torchvision is missing, register bare package stubs so that only the needed submodules are imported.
    """
    try:
        from lightly.loss import DCLLoss, NTXentLoss

        return NTXentLoss, DCLLoss
    except ImportError:
        spec = importlib.util.find_spec("lightly")
        if spec is None or not spec.submodule_search_locations:
            raise
        for mod in [m for m in sys.modules if m == "lightly" or m.startswith("lightly.")]:
            del sys.modules[mod]
        root = spec.submodule_search_locations[0]
        for name in ("lightly.loss", "lightly.models", "lightly.models.modules", "lightly.models.utils"):
            stub = types.ModuleType(name)
            stub.__path__ = [os.path.join(root, *name.split(".")[1:])]
            sys.modules[name] = stub
        from lightly.loss.dcl_loss import DCLLoss
        from lightly.loss.ntx_ent_loss import NTXentLoss

        return NTXentLoss, DCLLoss


def _load_lightly() -> dict[str, Callable] | str:
    try:
        ntx_cls, dcl_cls = _import_lightly_losses()
    except ImportError as e:  # pragma: no cover
        return f"lightly not installed or not importable ({e.__class__.__name__}: {e})"
    ntx, dcl = ntx_cls(temperature=TEMPERATURE), dcl_cls(temperature=TEMPERATURE)
    return {"NT-Xent": lambda z1, z2, labels: ntx(z1, z2), "DCL": lambda z1, z2, labels: dcl(z1, z2)}


def _ours() -> dict[str, Callable]:
    return {
        "NT-Xent": lambda z1, z2, labels: ssl_core.nt_xent(z1, z2, TEMPERATURE),
        "SupCon": lambda z1, z2, labels: ssl_core.nt_xent(z1, z2, TEMPERATURE, labels=labels),
        "DCL": lambda z1, z2, labels: ssl_core.dcl_loss(z1, z2, TEMPERATURE),
    }


# --------------------------------------------------------------------------------------------- measuring
def _proc_status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, val = line.split(":")
                out[key] = int(val.split()[0]) * 1024
    return out


def _can_measure_cpu() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM" in _proc_status()
    except OSError:
        return False


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step(fn: Callable, z1: torch.Tensor, z2: torch.Tensor, labels: torch.Tensor) -> float:
    z1.grad = z2.grad = None
    loss = fn(z1, z2, labels)
    loss.backward()
    return float(loss.detach())


def measure(fn, z1, z2, labels, repeats: int, cpu_mem: bool) -> tuple[float, float | None, float]:
    """(median seconds, peak extra bytes or None, loss value) of forward+backward."""
    device = z1.device
    value = _step(fn, z1, z2, labels)  # warm-up
    _sync(device)
    # memory, in its own pass
    peak = None
    if device.type == "cuda":
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        _step(fn, z1, z2, labels)
        _sync(device)
        peak = torch.cuda.max_memory_allocated(device) - base
    elif cpu_mem:
        z1.grad = z2.grad = None
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _proc_status()["VmRSS"]
        _step(fn, z1, z2, labels)
        peak = max(_proc_status()["VmHWM"] - before, 0)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        _step(fn, z1, z2, labels)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), peak, value


def _fmt_mem(b: float | None) -> str:
    return "n/a" if b is None else f"{b / 2**20:.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-sizes", default="256,1024,4096", help="comma-separated B (default %(default)s)")
    ap.add_argument("--dims", default="128,768", help="comma-separated D (default %(default)s)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64", "bfloat16", "float16"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--losses", default="NT-Xent,SupCon,DCL")
    ap.add_argument("--n-classes", type=int, default=16, help="labels for SupCon are drawn from this many classes")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave torch's default)")
    ap.add_argument("--skip", default="", help="comma-separated 'impl:loss:B' combinations to skip, e.g. "
                    "'pml:NT-Xent:4096' (pml's NT-Xent enumerates all 4B^2 pairs)")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cpu" and sys.platform.startswith("linux") and os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)  # see the module docstring

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    cpu_mem = device.type == "cpu" and _can_measure_cpu()
    impls: dict[str, dict[str, Callable]] = {"ssl_core": _ours()}
    for name, loader in (("pml", _load_pml), ("lightly", _load_lightly)):
        got = loader()
        if isinstance(got, str):
            print(f"note: skipping {name}: {got}")
        else:
            impls[name] = got
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    losses = [s.strip() for s in args.losses.split(",") if s.strip()]
    batch_sizes = [int(s) for s in args.batch_sizes.split(",")]
    dims = [int(s) for s in args.dims.split(",")]

    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"dtype {args.dtype}, torch {torch.__version__}, repeats {args.repeats}, temperature {TEMPERATURE}")
    print("memory: " + ("torch.cuda.max_memory_allocated growth" if device.type == "cuda" else
                        "resident-set growth (VmHWM after - VmRSS before, MALLOC_MMAP_THRESHOLD_=65536)"
                        if cpu_mem else "n/a"))
    print()
    print("| loss | B | D | impl | time ms | peak MiB | BxB MiB | time vs ssl_core | mem vs ssl_core | |loss - ours| |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for loss_name in losses:
        for b in batch_sizes:
            for d in dims:
                g = torch.Generator().manual_seed(b * 1000 + d)
                z1 = torch.randn(b, d, generator=g).to(device=device, dtype=dtype).requires_grad_()
                z2 = torch.randn(b, d, generator=g).to(device=device, dtype=dtype).requires_grad_()
                labels = torch.randint(args.n_classes, (b,), generator=g).to(device)
                bxb = (2 * b) ** 2 * z1.element_size()
                ours = None
                for impl, table in impls.items():
                    if loss_name not in table:
                        continue
                    if f"{impl}:{loss_name}:{b}" in skip:
                        print(f"| {loss_name} | {b} | {d} | {impl} | skipped | | | | | |")
                        continue
                    t, mem, val = measure(table[loss_name], z1, z2, labels, args.repeats, cpu_mem)
                    if impl == "ssl_core":
                        ours = (t, mem, val)
                        rel_t = rel_m = diff = "1.00"
                    else:
                        rel_t = f"{t / ours[0]:.2f}"
                        rel_m = "n/a" if mem is None or not ours[1] else f"{mem / ours[1]:.2f}"
                        diff = f"{abs(val - ours[2]):.1e}"
                    print(f"| {loss_name} | {b} | {d} | {impl} | {t * 1e3:.1f} | {_fmt_mem(mem)} | {bxb / 2**20:.0f} "
                          f"| {rel_t} | {rel_m} | {diff} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
