"""Forward+backward time and peak memory of ssl_core's contrastive losses against pytorch-metric-learning and
lightly, at equal inputs.

    python benchmarks/core_losses.py                       # default sweep (CPU here: a few minutes)
    python benchmarks/core_losses.py --device cuda --batch-sizes 256,1024,4096 --dims 128,256,768
    pip install -e '.[bench]'                              # the competitors (skipped with a note if missing)

Pairs compared (same embeddings, same temperature, values checked to agree):

* NT-Xent  -- ssl_core.nt_xent | pml NTXentLoss (2B embeddings, labels = sample index) | lightly NTXentLoss
* SupCon   -- ssl_core.nt_xent(labels=) | pml SupConLoss
* DCL      -- ssl_core.dcl_loss | lightly DCLLoss

Metric-learning losses (Metrix's clean losses; one batch ``z1`` with ``--n-classes`` labels, ``z2`` unused):

* Contrastive -- ssl_core.contrastive_loss | pml ContrastiveLoss(pos_margin=0, neg_margin=0.5)
* MS          -- ssl_core.multi_similarity_loss | pml MultiSimilarityLoss() (no miner)
* ProxyAnchor -- ssl_core.proxy_anchor_loss | pml ProxyAnchorLoss (the same ``--n-classes`` x D proxies, learnable)

Time: best (minimum) of at least ``--repeats`` forward+backward passes after one warm-up (more for fast cases,
until each implementation has ``--min-time`` seconds of samples), implementations interleaved
(``torch.cuda.synchronize`` on GPU); the minimum is the least sensitive to other load on a shared machine. Both
wall-clock and process CPU time (``time.process_time``, all threads) are reported: on a loaded CPU machine the
CPU time is the fairer comparison, on GPU only the wall time means anything.
Peak memory: on GPU ``torch.cuda.max_memory_allocated`` minus the allocation before the step. On CPU the growth of
the resident set during one step: the kernel's high-water mark is reset (``/proc/self/clear_refs``) before the step
and ``VmHWM - VmRSS(before)`` is read after it. CPU memory is measured in a child process started with
``MALLOC_MMAP_THRESHOLD_=65536`` (so freed tensors go back to the kernel and the number is the peak of live
buffers, not of malloc's cache); timings come from the parent, with the default allocator. Linux-only; elsewhere
the CPU memory column says n/a. The size of one similarity matrix is printed for scale (``sim MiB``: 2B x 2B for
the two-view losses, B x B for the metric losses; ProxyAnchor's own is only B x C): a loss whose memory grows like
B x B x D would show ratios that grow with D.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's ssl_core, not an installed one
import ssl_core  # noqa: E402

TEMPERATURE = 0.5
METRIC_LOSSES = ("Contrastive", "MS", "ProxyAnchor")  # one batch of B embeddings: a B x B (B x C) matrix
_N_CLASSES = [16]  # set from --n-classes in main(); the proxy count of ProxyAnchor
_PROXIES: dict[tuple, torch.Tensor] = {}


def _proxies(d: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """One learnable (C, D) proxy tensor per shape, the same values for every implementation."""
    key = (_N_CLASSES[0], d, dtype, device)
    if key not in _PROXIES:
        g = torch.Generator().manual_seed(_N_CLASSES[0] * 1000 + d)
        init = torch.randn(_N_CLASSES[0], d, generator=g) * (2 / _N_CLASSES[0]) ** 0.5
        _PROXIES[key] = init.to(device=device, dtype=dtype).requires_grad_()
    return _PROXIES[key]


# ------------------------------------------------------------------------------------------- competitors
def _load_pml() -> dict[str, Callable] | str:
    try:
        from pytorch_metric_learning.losses import (
            ContrastiveLoss,
            MultiSimilarityLoss,
            NTXentLoss,
            ProxyAnchorLoss,
            SupConLoss,
        )
    except ImportError as e:  # pragma: no cover - depends on the environment
        return f"pytorch-metric-learning not installed ({e.__class__.__name__}: {e})"
    ntx, sup = NTXentLoss(temperature=TEMPERATURE), SupConLoss(temperature=TEMPERATURE)
    con, ms = ContrastiveLoss(pos_margin=0, neg_margin=0.5), MultiSimilarityLoss()
    pa_losses: dict[tuple, torch.nn.Module] = {}

    def pml_proxy_anchor(z1, z2, labels):
        proxies = _proxies(z1.shape[1], z1.dtype, z1.device)
        key = (proxies.shape, z1.dtype, z1.device)
        if key not in pa_losses:  # pml's own Parameter, holding a copy of the shared proxies
            pa_losses[key] = ProxyAnchorLoss(num_classes=proxies.shape[0], embedding_size=proxies.shape[1])
            pa_losses[key].proxies.data = proxies.detach().clone()
        return pa_losses[key](z1, labels)

    def pml_ntxent(z1, z2, labels):
        idx = torch.arange(z1.shape[0], device=z1.device)
        return ntx(torch.cat([z1, z2]), torch.cat([idx, idx]))

    def pml_supcon(z1, z2, labels):
        return sup(torch.cat([z1, z2]), torch.cat([labels, labels]))

    return {
        "NT-Xent": pml_ntxent,
        "SupCon": pml_supcon,
        "Contrastive": lambda z1, z2, labels: con(z1, labels),
        "MS": lambda z1, z2, labels: ms(z1, labels),
        "ProxyAnchor": pml_proxy_anchor,
    }


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
        "Contrastive": lambda z1, z2, labels: ssl_core.contrastive_loss(z1, labels, 0.0, 0.5),
        "MS": lambda z1, z2, labels: ssl_core.multi_similarity_loss(z1, labels),
        "ProxyAnchor": lambda z1, z2, labels: ssl_core.proxy_anchor_loss(
            z1, labels, _proxies(z1.shape[1], z1.dtype, z1.device)
        ),
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


def peak_memory(fn, z1, z2, labels, cpu_mem: bool) -> float | None:
    """Extra bytes at the peak of one forward+backward (after a warm-up step)."""
    device = z1.device
    _step(fn, z1, z2, labels)
    z1.grad = z2.grad = None
    _sync(device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        _step(fn, z1, z2, labels)
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - base
    if not cpu_mem:
        return None
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _proc_status()["VmRSS"]
    _step(fn, z1, z2, labels)
    return max(_proc_status()["VmHWM"] - before, 0)


def _fmt_mem(b: float | None) -> str:
    return "n/a" if b is None else f"{b / 2**20:.0f}"


def _pml_ntxent_bytes(b: int, elem: int) -> int:
    """pml's NTXentLoss builds a (positive pairs) x (negative pairs) matrix: 2B x 2B(2B-2) elements."""
    return 2 * b * 2 * b * (2 * b - 2) * elem


def _cases(args, impls):
    """Every (loss, B, D, impl) to run, or a skip reason."""
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    elem = torch.finfo(getattr(torch, args.dtype)).bits // 8
    for loss_name in [s.strip() for s in args.losses.split(",") if s.strip()]:
        for b in [int(x) for x in args.batch_sizes.split(",")]:
            for d in [int(x) for x in args.dims.split(",")]:
                for impl, table in impls.items():
                    if loss_name not in table:
                        continue
                    reason = None
                    if f"{impl}:{loss_name}:{b}" in skip:
                        reason = "skipped (--skip)"
                    elif impl == "pml" and loss_name == "NT-Xent" and _pml_ntxent_bytes(b, elem) > args.max_bytes:
                        reason = (f"skipped: needs a {_pml_ntxent_bytes(b, elem) / 2**30:.0f} GiB pair matrix "
                                  f"(> --max-bytes)")
                    yield loss_name, b, d, impl, reason


def _inputs(b, d, args, device):
    g = torch.Generator().manual_seed(b * 1000 + d)
    dtype = getattr(torch, args.dtype)
    z1 = torch.randn(b, d, generator=g).to(device=device, dtype=dtype).requires_grad_()
    z2 = torch.randn(b, d, generator=g).to(device=device, dtype=dtype).requires_grad_()
    labels = torch.randint(args.n_classes, (b,), generator=g).to(device)
    return z1, z2, labels


def _load_impls(quiet: bool = False) -> dict[str, dict[str, Callable]]:
    impls: dict[str, dict[str, Callable]] = {"ssl_core": _ours()}
    for name, loader in (("pml", _load_pml), ("lightly", _load_lightly)):
        got = loader()
        if isinstance(got, str):
            if not quiet:
                print(f"note: skipping {name}: {got}")
        else:
            impls[name] = got
    return impls


def _cpu_memory_in_child(argv: list[str]) -> dict[str, float | None]:
    """Run the memory measurements in a child process with a fixed mmap threshold (see the module docstring)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *argv, "--memory-child"], env=env,
                         capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("MEMORY_JSON "):
            return json.loads(line[len("MEMORY_JSON "):])
    print(f"note: CPU memory measurement failed: {out.stderr[-500:]}")
    return {}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-sizes", default="256,1024,2048", help="comma-separated B (default %(default)s)")
    ap.add_argument("--dims", default="128,768", help="comma-separated D (default %(default)s)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64", "bfloat16", "float16"])
    ap.add_argument("--repeats", type=int, default=3, help="minimum timed rounds (default %(default)s)")
    ap.add_argument("--min-time", type=float, default=0.5,
                    help="keep timing fast cases until each implementation has this many seconds of samples")
    ap.add_argument("--losses", default="NT-Xent,SupCon,DCL,Contrastive,MS,ProxyAnchor")
    ap.add_argument("--n-classes", type=int, default=16,
                    help="labels for SupCon and the metric losses are drawn from this many classes (= proxies)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave torch's default)")
    ap.add_argument("--max-bytes", type=float, default=4 * 2**30,
                    help="skip pml NT-Xent when its pair matrix would exceed this many bytes (default 4 GiB)")
    ap.add_argument("--skip", default="", help="comma-separated 'impl:loss:B' combinations to skip")
    ap.add_argument("--no-memory", action="store_true", help="time only")
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    _N_CLASSES[0] = args.n_classes

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        impls = _load_impls(quiet=True)
        cpu_mem = _can_measure_cpu()
        res = {}
        for loss_name, b, d, impl, reason in _cases(args, impls):
            if reason is None:
                z1, z2, labels = _inputs(b, d, args, device)
                res[f"{loss_name}|{b}|{d}|{impl}"] = peak_memory(impls[impl][loss_name], z1, z2, labels, cpu_mem)
        print("MEMORY_JSON " + json.dumps(res))
        return 0

    impls = _load_impls()
    mem: dict[str, float | None] = {}
    mem_note = "not measured (--no-memory)"
    if not args.no_memory:
        if device.type == "cpu":
            if sys.platform.startswith("linux") and _can_measure_cpu():
                mem = _cpu_memory_in_child(argv)
                mem_note = "resident-set growth during one step (VmHWM after - VmRSS before), child process with " \
                           "MALLOC_MMAP_THRESHOLD_=65536"
            else:
                mem_note = "n/a (needs Linux /proc)"
        else:
            mem_note = "torch.cuda.max_memory_allocated growth during one step"
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"device: {device} ({where}), dtype {args.dtype}, torch {torch.__version__}, "
          f"best of >= {args.repeats} rounds (>= {args.min_time} s per implementation), "
          f"temperature {TEMPERATURE}")
    print(f"memory: {mem_note}")
    print()
    print("| loss | B | D | impl | wall ms | cpu ms | peak MiB | sim MiB | wall / ssl_core | cpu / ssl_core "
          "| mem / ssl_core | abs(loss - ours) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple, list] = {}
    for loss_name, b, d, impl, reason in _cases(args, impls):
        groups.setdefault((loss_name, b, d), []).append((impl, reason))
    for (loss_name, b, d), entries in groups.items():
        z1, z2, labels = _inputs(b, d, args, device)
        bxb = (b if loss_name in METRIC_LOSSES else 2 * b) ** 2 * z1.element_size()
        runnable = [impl for impl, reason in entries if reason is None]
        values, times, cpu_times = {}, {impl: [] for impl in runnable}, {impl: [] for impl in runnable}
        for impl in runnable:  # warm-up and loss value
            values[impl] = _step(impls[impl][loss_name], z1, z2, labels)
        rounds = 0
        # interleaved rounds, so that background load hits every implementation alike; at least --repeats rounds,
        # more for fast cases until every implementation has --min-time seconds of samples (at most 50 rounds)
        while rounds < args.repeats or (
            rounds < 50 and any(sum(times[impl]) < args.min_time for impl in runnable)
        ):
            rounds += 1
            for impl in runnable:
                _sync(device)
                t0, c0 = time.perf_counter(), time.process_time()
                _step(impls[impl][loss_name], z1, z2, labels)
                _sync(device)
                times[impl].append(time.perf_counter() - t0)
                cpu_times[impl].append(time.process_time() - c0)
        if device.type == "cuda" and not args.no_memory:
            for impl in runnable:
                mem[f"{loss_name}|{b}|{d}|{impl}"] = peak_memory(impls[impl][loss_name], z1, z2, labels, False)
        ours_t = min(times["ssl_core"]) if "ssl_core" in times else None
        ours_c = min(cpu_times["ssl_core"]) if "ssl_core" in cpu_times else None
        ours_m = mem.get(f"{loss_name}|{b}|{d}|ssl_core")
        for impl, reason in entries:
            if reason is not None:
                print(f"| {loss_name} | {b} | {d} | {impl} | {reason} | | | {bxb / 2**20:.0f} | | | | |")
                continue
            t, c, m = min(times[impl]), min(cpu_times[impl]), mem.get(f"{loss_name}|{b}|{d}|{impl}")
            rel_t = "n/a" if ours_t is None else f"{t / ours_t:.2f}"
            rel_c = "n/a" if not ours_c else f"{c / ours_c:.2f}"
            rel_m = "n/a" if m is None or not ours_m else f"{m / ours_m:.2f}"
            diff = "n/a" if "ssl_core" not in values else f"{abs(values[impl] - values['ssl_core']):.1e}"
            print(f"| {loss_name} | {b} | {d} | {impl} | {t * 1e3:.1f} | {c * 1e3:.1f} | {_fmt_mem(m)} "
                  f"| {bxb / 2**20:.0f} | {rel_t} | {rel_c} | {rel_m} | {diff} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
