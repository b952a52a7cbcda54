"""MoCo's InfoNCE with a queue of negatives, and MoCHi hard negative mixing (Kalantidis et al., NeurIPS 2020,
"Hard Negative Mixing for Contrastive Learning")."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core.losses.infonce import check_temperature

__all__ = ["moco_info_nce", "mix_hard_negatives", "mochi_negatives", "mochi_loss"]


def moco_info_nce(
    query: torch.Tensor,
    key: torch.Tensor,
    negatives: torch.Tensor,
    temperature: float = 0.2,
    *,
    extra_negatives: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""MoCo's InfoNCE (He et al., 2020): one positive key per query against a shared set of negatives.

    With :math:`s(u, v) = \cos(u, v)/\tau`, shared negatives :math:`n_k` (the queue) and optional per-query
    negatives :math:`h_{i,s}` (``extra_negatives``, shape ``(B, S, D)``, e.g. MoCHi's synthetic ones):

    .. math::
        \mathcal{L} = -\frac1B \sum_i \log \frac{e^{s(q_i, k_i)}}
            {e^{s(q_i, k_i)} + \sum_k e^{s(q_i, n_k)} + \sum_s e^{s(q_i, h_{i,s})}}

    Without extra negatives, row ``i`` is ``info_nce(query[i:i+1], cat([key[i:i+1], negatives]))``.
    """
    check_temperature(temperature)
    if query.ndim != 2 or query.shape != key.shape:
        raise ValueError(f"query and key must both be (B, D), got {tuple(query.shape)} and {tuple(key.shape)}")
    if negatives.ndim != 2 or negatives.shape[1] != query.shape[1]:
        raise ValueError(f"negatives must be (K, {query.shape[1]}), got {tuple(negatives.shape)}")
    q = F.normalize(query, dim=-1)
    pos = (q * F.normalize(key, dim=-1)).sum(-1, keepdim=True)
    parts = [pos, q @ F.normalize(negatives, dim=-1).to(q.dtype).T]
    if extra_negatives is not None:
        if extra_negatives.ndim != 3 or extra_negatives.shape[0] != q.shape[0] or extra_negatives.shape[2] != q.shape[1]:
            raise ValueError(f"extra_negatives must be (B, S, D), got {tuple(extra_negatives.shape)}")
        parts.append(torch.einsum("bd,bsd->bs", q, F.normalize(extra_negatives, dim=-1).to(q.dtype)))
    logits = torch.cat(parts, dim=1) / temperature
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


def mix_hard_negatives(
    query: torch.Tensor,
    hardest: torch.Tensor,
    pair_index: torch.Tensor,
    alpha: torch.Tensor,
    query_index: torch.Tensor,
    beta: torch.Tensor,
) -> torch.Tensor:
    r"""MoCHi's synthetic negatives for given sampling choices (deterministic; see :func:`mochi_negatives`).

    ``hardest`` is ``(B, N, D)``: each query's ``N`` hardest negatives :math:`\tilde n_{i,\cdot}`, normalised.

    .. math::
        h_{i,s} = \frac{\alpha_{i,s} \tilde n_{i,a} + (1 - \alpha_{i,s}) \tilde n_{i,b}}{\lVert\cdot\rVert},
        \quad (a, b) = \text{pair\_index}[i, s];\qquad
        h'_{i,t} = \frac{\beta_{i,t} q_i + (1 - \beta_{i,t}) \tilde n_{i,c}}{\lVert\cdot\rVert},
        \quad c = \text{query\_index}[i, t]

    Returns ``(B, S + T, D)``: the ``S`` negative-negative mixes, then the ``T`` query-negative mixes. The query
    enters detached (synthetic negatives carry no gradient, as in the paper).
    """
    b, _, d = hardest.shape
    rows = torch.arange(b, device=hardest.device)[:, None]
    n_a, n_b = hardest[rows, pair_index[..., 0]], hardest[rows, pair_index[..., 1]]  # (B, S, D)
    a = alpha.to(hardest.dtype)[..., None]
    mixed = F.normalize(a * n_a + (1 - a) * n_b, dim=-1)
    q = F.normalize(query.detach(), dim=-1).to(hardest.dtype)[:, None, :]
    bt = beta.to(hardest.dtype)[..., None]
    mixed_q = F.normalize(bt * q + (1 - bt) * hardest[rows, query_index], dim=-1)
    return torch.cat([mixed, mixed_q], dim=1).detach()


@torch.no_grad()
def mochi_negatives(
    query: torch.Tensor,
    negatives: torch.Tensor,
    *,
    n_hard: int = 1024,
    n_mix: int = 1024,
    n_query_mix: int = 256,
    beta_max: float = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Sample MoCHi's synthetic hard negatives (Kalantidis et al., 2020), shape ``(B, n_mix + n_query_mix, D)``.

    For each query, rank the shared negatives by :math:`\cos(q_i, n_k)` and keep the ``n_hard`` hardest; draw
    ``n_mix`` pairs of them with :math:`\alpha \sim U(0, 1)` and ``n_query_mix`` single ones with
    :math:`\beta \sim U(0, \beta_{max})` (``beta_max = 0.5`` keeps the query's share below the negative's), then
    :func:`mix_hard_negatives`. Random numbers come from ``generator`` (CPU) or torch's global generator.
    """
    if n_hard < 1 or n_mix < 0 or n_query_mix < 0:
        raise ValueError(f"need n_hard >= 1 and n_mix, n_query_mix >= 0, got {n_hard}, {n_mix}, {n_query_mix}")
    if not 0.0 <= beta_max <= 1.0:
        raise ValueError(f"beta_max must be in [0, 1], got {beta_max}")
    b = query.shape[0]
    neg = F.normalize(negatives.detach(), dim=-1).to(query.dtype)
    n_hard = min(n_hard, neg.shape[0])
    sims = F.normalize(query.detach(), dim=-1) @ neg.T
    hard_idx = sims.topk(n_hard, dim=1).indices  # (B, N)
    hardest = neg[hard_idx]
    pair_index = torch.randint(n_hard, (b, n_mix, 2), generator=generator).to(query.device)
    alpha = torch.rand(b, n_mix, generator=generator, dtype=torch.float64).to(query.device)
    query_index = torch.randint(n_hard, (b, n_query_mix), generator=generator).to(query.device)
    beta = (beta_max * torch.rand(b, n_query_mix, generator=generator, dtype=torch.float64)).to(query.device)
    return mix_hard_negatives(query, hardest, pair_index, alpha, query_index, beta)


def mochi_loss(
    query: torch.Tensor,
    key: torch.Tensor,
    negatives: torch.Tensor,
    temperature: float = 0.2,
    *,
    n_hard: int = 1024,
    n_mix: int = 1024,
    n_query_mix: int = 256,
    beta_max: float = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""MoCHi loss: :func:`moco_info_nce` with the synthetic hard negatives of :func:`mochi_negatives` added
    to each query's denominator.

    .. math::
        \mathcal{L} = -\frac1B \sum_i \log \frac{e^{s(q_i, k_i)}}
            {e^{s(q_i, k_i)} + \sum_k e^{s(q_i, n_k)} + \sum_s e^{s(q_i, h_{i,s})} + \sum_t e^{s(q_i, h'_{i,t})}}

    ``n_mix = n_query_mix = 0`` gives plain MoCo.
    """
    extra = None
    if n_mix + n_query_mix > 0:
        extra = mochi_negatives(
            query, negatives, n_hard=n_hard, n_mix=n_mix, n_query_mix=n_query_mix, beta_max=beta_max,
            generator=generator,
        )
    return moco_info_nce(query, key, negatives, temperature, extra_negatives=extra)
