"""DDP equivalence on CPU: two gloo processes that gather give the loss and gradients of one process with the
whole batch, and a queue fed by two processes holds what one process fed the whole batch holds.

One ``torch.multiprocessing.spawn`` (module-scoped fixture) computes everything; the tests compare.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ssl_core import NegativeQueue, dcl_loss, multiview_info_nce, nt_xent

WORLD, B_LOCAL, D_IN, D_OUT = 2, 4, 5, 3
LABELS = torch.tensor([0, 1, 2, 0, 1, 1, 2, 3])


def _losses():
    return {
        "nt_xent": lambda z1, z2, z3, lab, g: nt_xent(z1, z2, 0.3, gather_distributed=g),
        "supcon": lambda z1, z2, z3, lab, g: nt_xent(z1, z2, 0.3, labels=lab, gather_distributed=g),
        "dcl": lambda z1, z2, z3, lab, g: dcl_loss(z1, z2, 0.3, gather_distributed=g),
        "dclw": lambda z1, z2, z3, lab, g: dcl_loss(z1, z2, 0.3, sigma=0.5, gather_distributed=g),
        "mv_joint": lambda z1, z2, z3, lab, g: multiview_info_nce([z1, z2, z3], 0.3, gather_distributed=g),
        "mv_pairwise": lambda z1, z2, z3, lab, g: multiview_info_nce(
            [z1, z2, z3], 0.3, mode="pairwise", gather_distributed=g
        ),
    }


def _data():
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(WORLD * B_LOCAL, D_IN, generator=g, dtype=torch.float64) for _ in range(3)]
    torch.manual_seed(0)
    enc = nn.Linear(D_IN, D_OUT, dtype=torch.float64)
    return xs, enc


def _run(xs, enc, labels, gather):
    """Loss, parameter gradients and input gradients of every loss."""
    out = {}
    for name, fn in _losses().items():
        enc.zero_grad()
        inputs = [x.clone().requires_grad_() for x in xs]
        loss = fn(*(enc(x) for x in inputs), labels, gather)
        loss.backward()
        grads = [p.grad.clone() for p in enc.parameters()]
        out[name] = (loss.detach(), grads, [torch.zeros_like(x) if x.grad is None else x.grad.clone() for x in inputs])
    return out


def _worker(rank: int, port: int, outdir: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        xs, enc = _data()
        sl = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)
        res = _run([x[sl] for x in xs], enc, LABELS[sl], True)
        for name, (loss, grads, xgrads) in res.items():
            dist.all_reduce(loss)  # mean of the per-process losses
            loss /= WORLD
            for g in grads:  # what DDP does to parameter gradients
                dist.all_reduce(g)
                g /= WORLD
        queue = NegativeQueue(6, D_IN, with_labels=True, normalize=False)
        queue.enqueue(xs[0][sl], LABELS[sl])
        queue.enqueue(xs[1][sl][:2], LABELS[sl][:2])  # 4 + 4 + 2 + 2 = 12 > 6: wraps around
        torch.save({"losses": res, "queue": (queue.keys(), queue.labels(), len(queue))}, f"{outdir}/rank{rank}.pt")
        # No rank may tear gloo down while the other still has a collective in flight: that aborts the process
        # ("terminate called without an active exception", seen once under load in CI).
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    if not dist.is_available():
        pytest.skip("torch.distributed not available")
    outdir = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(outdir)), nprocs=WORLD, join=True)
    return [torch.load(outdir / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


@pytest.fixture(scope="module")
def single_results():
    xs, enc = _data()
    return _run(xs, enc, LABELS, False)


@pytest.mark.parametrize("name", list(_losses()))
def test_gathered_loss_and_gradients_equal_full_batch(ddp_results, single_results, name):
    loss_full, grads_full, xgrads_full = single_results[name]
    for rank, res in enumerate(ddp_results):
        loss, grads, xgrads = res["losses"][name]
        assert float(loss) == pytest.approx(float(loss_full), rel=1e-12), (name, rank)
        for g, gf in zip(grads, grads_full):
            assert torch.allclose(g, gf, rtol=1e-10, atol=1e-12), (name, rank)
        # all_gather's backward sums every process' contribution: W times the full-batch input gradient
        sl = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)
        for xg, xgf in zip(xgrads, xgrads_full):
            assert torch.allclose(xg / WORLD, xgf[sl], rtol=1e-10, atol=1e-12), (name, rank)


def test_without_gathering_the_losses_differ(single_results):
    # guard against a vacuous comparison: the local-only loss of half the batch is not the full-batch loss
    xs, enc = _data()
    local = _run([x[:B_LOCAL] for x in xs], enc, LABELS[:B_LOCAL], False)
    assert abs(float(local["nt_xent"][0]) - float(single_results["nt_xent"][0])) > 1e-3


def test_queue_under_ddp_equals_single_process_queue(ddp_results):
    xs, _ = _data()
    single = NegativeQueue(6, D_IN, with_labels=True, normalize=False)
    single.enqueue(xs[0], LABELS)
    both = torch.cat([xs[1][:2], xs[1][B_LOCAL : B_LOCAL + 2]])
    single.enqueue(both, torch.cat([LABELS[:2], LABELS[B_LOCAL : B_LOCAL + 2]]))
    for res in ddp_results:
        keys, labels, n = res["queue"]
        assert n == 6
        assert torch.equal(keys, single.keys()) and torch.equal(labels, single.labels())
