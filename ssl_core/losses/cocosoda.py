"""CoCoSoDa's multimodal contrastive loss (Shi et al., ICSE 2023, "CoCoSoDa: Effective Contrastive Learning for
Code Search"): inter-modal (query <-> code) and intra-modal (code <-> augmented code, query <-> augmented query)
InfoNCE against momentum keys and queues of negatives."""

from __future__ import annotations

import torch

from ssl_core.losses.infonce import info_nce

__all__ = ["cocosoda_loss"]


def _keys(key: torch.Tensor, queue: torch.Tensor | None) -> torch.Tensor:
    return key if queue is None or queue.shape[0] == 0 else torch.cat([key, queue.to(key.dtype)])


def cocosoda_loss(
    query: torch.Tensor,
    code: torch.Tensor,
    query_key: torch.Tensor,
    code_key: torch.Tensor,
    query_queue: torch.Tensor | None = None,
    code_queue: torch.Tensor | None = None,
    temperature: float = 0.05,
    inter_weight: float = 1.0,
    intra_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    r"""Weighted sum of CoCoSoDa's four InfoNCE terms; returns ``(loss, {"inter": ..., "intra": ...})``.

    ``query``/``code`` (``(B, D)``) come from the online encoders, ``query_key``/``code_key`` from the key
    (momentum) encoders applied to the augmented query and code (row ``i`` is the positive of row ``i``), the
    queues hold earlier keys of each modality (extra negatives; ``None`` or empty: in-batch negatives only).
    With :math:`\ell(a, k, Q) = \mathrm{InfoNCE}(a, [k; Q])` (cosine similarity, temperature :math:`\tau`):

    .. math::
        \mathcal{L}_{inter} = \tfrac12\big(\ell(q, c^k, Q_c) + \ell(c, q^k, Q_q)\big),\quad
        \mathcal{L}_{intra} = \tfrac12\big(\ell(c, c^k, Q_c) + \ell(q, q^k, Q_q)\big)

    .. math:: \mathcal{L} = w_{inter}\,\mathcal{L}_{inter} + w_{intra}\,\mathcal{L}_{intra}
    """
    if not (query.shape == code.shape == query_key.shape == code_key.shape) or query.ndim != 2:
        raise ValueError("query, code and their keys must all be (B, D) of the same shape")
    ck, qk = _keys(code_key, code_queue), _keys(query_key, query_queue)
    inter = 0.5 * (info_nce(query, ck, temperature) + info_nce(code, qk, temperature))
    intra = 0.5 * (info_nce(code, ck, temperature) + info_nce(query, qk, temperature))
    return inter_weight * inter + intra_weight * intra, {"inter": inter.detach(), "intra": intra.detach()}
