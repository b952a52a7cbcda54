"""The parts of the ``code`` config section each stage reads (:func:`ssl_core.config.select_parts`): the workflow
passes a job only these (adding a benchmark, a variant or editing another stage's settings reruns no finished
job), and each stage keeps only these, so that reading any other key fails at once."""

from __future__ import annotations

__all__ = ["STAGE_PARTS"]

STAGE_PARTS: dict[str, tuple[str, ...]] = {
    "corpus": ("corpus",),
    "tokenizer": ("tokenizer",),
    "train": ("model", "train", "augment"),
    # the pretrained_cocosoda training run: its checkpoint and fine-tune settings, and of model / train only what
    # they do not replace (so resizing the from-scratch model or its run reruns no fine-tune)
    "finetune": ("model.pretrained", "model.dropout", "model.max_query_tokens", "model.share_encoder",
                 "train.seed", "train.weight_decay", "train.warmup_steps", "train.momentum",
                 "train.queue_size", "train.inter_weight", "train.intra_weight", "augment", "finetune"),
    "evaluate": ("eval",),
    "dev": ("eval.dev_pairs", "eval.batch_size"),
}
