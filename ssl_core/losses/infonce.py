"""InfoNCE and NT-Xent: the contrastive losses every other loss in ssl_core specialises.

All functions are pure: tensors in, scalar loss out, no state. Embeddings are L2-normalised inside (cosine
similarity), so callers pass raw projector outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssl_core import distributed

__all__ = ["check_temperature", "soft_target_cross_entropy", "info_nce", "nt_xent", "masked_logsumexp"]


def check_temperature(temperature: float) -> None:
    """Reject temperatures that would make the logits overflow or flip sign."""
    if not temperature > 1e-8:
        raise ValueError(f"temperature must be > 1e-8, got {temperature}")


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-sum_j targets[i, j] * log_softmax(logits[i])_j``.

    ``targets`` rows are probability distributions (they need not be one-hot). This is the one place where
    contrastive logits meet their targets, so hard, SupCon-style and mixup targets share a code path.
    """
    return -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def _row_chunks(mat: torch.Tensor, max_elements: int = 1 << 22) -> list[slice]:
    """Row slices of ``mat`` holding at most ``max_elements`` entries each (at least one row)."""
    step = max(1, max_elements // max(1, mat.shape[1]))
    return [slice(i, min(i + step, mat.shape[0])) for i in range(0, mat.shape[0], step)]


class _MaskedLogSumExp(torch.autograd.Function):
    """Row-wise ``logsumexp`` of ``q @ k.T`` with some columns excluded, and optionally the mean logit over a
    boolean positive mask, with a hand-written backward that keeps one ``M x N`` buffer.

    Autograd's generic path keeps the masked and unmasked logits and allocates the softmax and the
    incoming-gradient products as further ``M x N`` buffers; here the matmul output is masked in place, saved, and
    the backward builds the gradient in a single new buffer. Used by the contrastive losses for their only
    ``B x B`` term. Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, q, k, exclude, pos_mask, scale):  # noqa: ANN001, ANN205
        logits = q @ k.T
        if scale != 1.0:
            logits.mul_(scale)  # in place: no scaled copy of q and no second M x N buffer
        logits.scatter_(1, exclude, float("-inf"))
        lse = logits.new_empty(logits.shape[0])
        for rows in _row_chunks(logits):  # torch.logsumexp's own temporaries would be two more M x N buffers
            lse[rows] = torch.logsumexp(logits[rows], dim=1)
        if pos_mask is None:
            pos_mean = lse.new_zeros(0)
            inv_n = None
        else:
            # chunked: counting a bool matrix upcasts it to int64 (8 bytes per entry), and the masked sum needs a
            # temporary; row chunks keep both small instead of adding M x N buffers
            inv_n = logits.new_empty(logits.shape[0])
            pos_mean = logits.new_empty(logits.shape[0])
            zero = logits.new_zeros(())
            for rows in _row_chunks(logits):
                inv_n[rows] = pos_mask[rows].sum(1).to(logits.dtype)
                pos_mean[rows] = torch.where(pos_mask[rows], logits[rows], zero).sum(1)
            inv_n.reciprocal_()
            pos_mean.mul_(inv_n)
        ctx.save_for_backward(q, k, logits, lse, pos_mask, inv_n)
        ctx.scale = scale
        return lse, pos_mean

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_lse, g_pos):  # noqa: ANN001, ANN205
        q, k, logits, lse, pos_mask, inv_n = ctx.saved_tensors
        # softmax * g in one new buffer (the saved logits stay intact: backward may run again with retain_graph)
        grad = torch.empty_like(logits)
        for rows in _row_chunks(logits):
            torch.sub(logits[rows], lse[rows, None], out=grad[rows])
        grad.exp_()  # softmax
        if g_lse is None:
            grad.zero_()
        else:
            grad.mul_(g_lse[:, None])
        if pos_mask is not None and g_pos is not None and g_pos.numel():
            coef = (g_pos * inv_n)[:, None]
            for rows in _row_chunks(grad):
                grad[rows].add_(pos_mask[rows] * coef[rows])
        if ctx.scale != 1.0:
            grad.mul_(ctx.scale)
        grad_q = grad @ k if ctx.needs_input_grad[0] else None
        grad_k = grad.T @ q if ctx.needs_input_grad[1] else None
        return grad_q, grad_k, None, None, None


def masked_logsumexp(
    q: torch.Tensor,
    k: torch.Tensor,
    exclude: torch.Tensor,
    pos_mask: torch.Tensor | None = None,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Memory-lean building block: with :math:`l_{ij} = c \langle q_i, k_j \rangle` (:math:`c` = ``scale``,
    e.g. ``1/temperature``), :math:`\mathrm{lse}_i = \log \sum_{j \notin E(i)} e^{l_{ij}}` and, with
    ``pos_mask``, the mean of :math:`l_{ij}` over the :math:`j` in the mask.

    ``exclude`` is an ``(M, E)`` index tensor of the columns :math:`E(i)` left out of row ``i``; every row must
    keep at least one column. Peak memory is about one ``M x N`` matrix in forward and two in backward (plus the
    boolean mask); the function is not twice differentiable.
    """
    return _MaskedLogSumExp.apply(q, k, exclude, pos_mask, float(scale))


def _positive_targets(
    n_query: int, key_labels: torch.Tensor | None, query_labels: torch.Tensor | None, like: torch.Tensor
) -> torch.Tensor:
    """Row-normalised positive mask: the diagonal, or all keys sharing the query's label."""
    if query_labels is None:
        return torch.eye(n_query, like.shape[1], dtype=like.dtype, device=like.device)
    pos = (query_labels.reshape(-1, 1) == key_labels.reshape(1, -1)).to(like.dtype)
    counts = pos.sum(dim=1, keepdim=True)
    if bool((counts == 0).any()):
        raise ValueError("every query needs at least one key with the same label")
    return pos / counts


def info_nce(
    query: torch.Tensor,
    key: torch.Tensor,
    temperature: float = 0.1,
    *,
    labels: torch.Tensor | None = None,
    key_labels: torch.Tensor | None = None,
    symmetric: bool = False,
) -> torch.Tensor:
    r"""InfoNCE (van den Oord et al., 2018) between two aligned batches; the CLIP form when ``symmetric``.

    With :math:`s_{ij} = \cos(q_i, k_j) / \tau` and positive set :math:`P(i)`:

    .. math::
        \mathcal{L} = -\frac{1}{B} \sum_i \frac{1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp s_{ip}}{\sum_j \exp s_{ij}}

    Without labels :math:`P(i) = \{i\}` (``key[i]`` is the positive of ``query[i]``, all other keys are
    negatives). With ``labels`` every key with the query's label is a positive (SupCon, Khosla et al., 2020,
    "L_out" form averaged over positives). ``key_labels`` defaults to ``labels``; ``key`` may have more rows than
    ``query`` (extra negatives, e.g. a MoCo queue, need ``key_labels`` when labels are used).
    ``symmetric`` averages the query->key and key->query directions (CLIP, Radford et al., 2021); it needs
    equally many queries and keys.
    """
    check_temperature(temperature)
    if query.ndim != 2 or key.ndim != 2 or query.shape[1] != key.shape[1]:
        raise ValueError(f"query and key must be (B, D) and (N, D), got {tuple(query.shape)} and {tuple(key.shape)}")
    if labels is None and key.shape[0] < query.shape[0]:
        raise ValueError("without labels, key[i] is the positive of query[i]: key needs at least as many rows")
    if key_labels is None:
        key_labels = labels
    logits = F.normalize(query, dim=-1) @ F.normalize(key, dim=-1).T / temperature
    targets = _positive_targets(query.shape[0], key_labels, labels, logits)
    loss = soft_target_cross_entropy(logits, targets)
    if symmetric:
        if query.shape[0] != key.shape[0]:
            raise ValueError("symmetric InfoNCE needs as many keys as queries")
        targets_t = _positive_targets(key.shape[0], labels, key_labels, logits.T)
        loss = 0.5 * (loss + soft_target_cross_entropy(logits.T, targets_t))
    return loss


def _two_view_keys(
    z1: torch.Tensor, z2: torch.Tensor, gather_distributed: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Normalised local queries ``[z1; z2]``, the keys they are compared with and the queries' key indices.

    Keys are ``[z1_all; z2_all]`` (``2N`` rows, ``N = B * world_size``) when gathering, else the queries
    themselves. ``qidx[r]`` is the key row holding query ``r`` itself; its other view sits at
    ``(qidx[r] + N) % 2N``.
    """
    b = z1.shape[0]
    n1, n2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    queries = torch.cat([n1, n2])
    if gather_distributed and distributed.world_size() > 1:
        keys = torch.cat([distributed.gather(n1), distributed.gather(n2)])
        off = distributed.rank_offset(b)
    else:
        keys, off = queries, 0
    n = keys.shape[0] // 2
    local = torch.arange(b, device=z1.device) + off
    qidx = torch.cat([local, local + n])
    return queries, keys, qidx, n


def nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float = 0.5,
    *,
    labels: torch.Tensor | None = None,
    gather_distributed: bool = False,
) -> torch.Tensor:
    r"""NT-Xent, the SimCLR loss (Chen et al., 2020), for two views of the same batch.

    The ``2B`` embeddings :math:`z = [z^{(1)}; z^{(2)}]` are compared with each other; the positive of
    :math:`z_i` is its other view, every other embedding except itself is a negative:

    .. math::
        \mathcal{L} = -\frac{1}{2B} \sum_{i=1}^{2B}
            \log \frac{\exp(\cos(z_i, z_{i^+})/\tau)}{\sum_{j \ne i} \exp(\cos(z_i, z_j)/\tau)}

    With ``labels`` (shape ``(B,)``) all other embeddings of the same label are positives (SupCon, Khosla et al.,
    2020, :math:`\mathcal{L}^{sup}_{out}`: mean of the log-probabilities over the positives).

    ``gather_distributed``: under ``torch.distributed`` the keys (and labels) of every process are gathered
    (with gradient, :func:`ssl_core.distributed.gather`), so each process' queries see the global batch as
    negatives; all processes need the same ``B``. The cost is one ``2B x 2BW`` similarity matrix, nothing
    ``B x B x D``.
    """
    check_temperature(temperature)
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must both be (B, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if labels is not None and labels.shape != (z1.shape[0],):
        raise ValueError(f"labels must have shape ({z1.shape[0]},), got {tuple(labels.shape)}")
    queries, keys, qidx, n = _two_view_keys(z1, z2, gather_distributed)
    exclude = qidx[:, None]  # a query is never its own negative
    if labels is None:
        lse, _ = masked_logsumexp(queries, keys, exclude, scale=1.0 / temperature)
        # the positive of a local query is the other local view: row-wise dot products, O(B D)
        b = z1.shape[0]
        pos = (queries[:b] * queries[b:]).sum(-1) / temperature
        return (lse - torch.cat([pos, pos])).mean()
    lab_keys = distributed.gather_no_grad(labels) if gather_distributed else labels
    lab_keys = torch.cat([lab_keys, lab_keys]).to(queries.device)
    lab_q = torch.cat([labels, labels]).to(queries.device)
    pos_mask = lab_q[:, None] == lab_keys[None, :]
    pos_mask.scatter_(1, exclude, False)
    lse, pos_mean = masked_logsumexp(queries, keys, exclude, pos_mask, scale=1.0 / temperature)
    return (lse - pos_mean).mean()
