"""Train the query and code encoders with CoCoSoDa (or one of its ablations).

    python -m domains.code.cocosoda.train --corpus results/code/corpus --tokenizer results/code/tokenizer.json \
        --variant cocosoda --out results/code/train/cocosoda [--config ...] [--hparams JSON] [--compute JSON] \
        [--threads 1] [--no-progress]

Each step takes ``train.batch_size`` docstring-code pairs. The online encoders embed the query and the code; the
key encoders embed soft-augmented copies (:mod:`domains.code.cocosoda.augment`: dynamic masking and replacement by token
type). Loss: :func:`ssl_core.losses.cocosoda_loss` - inter-modal InfoNCE in both directions and intra-modal
InfoNCE, against the keys of the batch and the queues of earlier keys of each modality. The key encoders follow
the online ones by EMA (:func:`ssl_core.moco.ema_update_`), queues are :class:`ssl_core.moco.NegativeQueue`.

Variants (the paper's ablation rows): ``cocosoda`` (all of it), ``no_sda`` (no augmentation: keys embed the
original texts), ``no_queue`` (no momentum encoders and no queues: keys come from the online encoders, with
gradient, and the only negatives are the batch's), ``no_intra`` (inter-modal loss only). These start from scratch
with the BPE vocabulary (``--tokenizer``). ``pretrained_cocosoda`` is all of CoCoSoDa fine-tuning the checkpoint
``model.pretrained`` names (``minilm`` or a local BERT directory) with the checkpoint's own tokenizer, soft
augmentation over its WordPiece tokens (``[MASK]`` is its mask token), and the settings of ``finetune.cpu``, or of
``finetune.gpu`` when the job trains on a GPU (:func:`finetune_hparams`): the top ``trainable_layers`` layers
trained (the embeddings and lower layers frozen), its code window, batch, length, learning rate and InfoNCE
temperature (its own; ``train.temperature`` is the from-scratch runs').

Training runs in :func:`ssl_core.training.fit` (one process: the queues are per process, so no DDP): a GPU when
the job has one (``compute`` section), checkpoints at epoch boundaries in ``checkpoints/`` holding the RNG states
and the augmentation generator, so an interrupted run (SIGTERM: exit 143, SIGKILL) resumes exactly; a checkpoint of
other settings or inputs, or of a finished run, is dropped with a warning and training starts from scratch.

Outputs in ``--out``: ``encoder.pt`` (trained), ``encoder_init.pt`` (same seed before training: the untrained
baseline; for ``pretrained_cocosoda`` the checkpoint itself, the zero-shot row), both with their tokenizer and
token windows, ``history.csv`` (per epoch: loss, inter, intra, validation MRR), ``run.json`` (step time, pairs/s,
parameters, device, precision) and ``checkpoints/``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, RandomSampler
from transformers import BertModel

from domains.code.cocosoda.augment import TypePools, soft_augment
from domains.code.data.lexer import code_tokens, encoder_text, query_tokens
from domains.code.cocosoda.model import (Encoders, MeanPoolEncoder, batch_ids, bert_config, encode_texts,
                                         load_pretrained, pretrained_dir, save_encoders)
from domains.code.cocosoda.tokenizer import load_tokenizer, read_pairs
from domains.code.settings import STAGE_PARTS
from ssl_core.atomic import atomic_path, remove_on_failure, write_json
from ssl_core.config import deep_merge, resolve_section, select_parts
from ssl_core.errors import InputError, report_input_errors
from ssl_core.losses.cocosoda import cocosoda_loss
from ssl_core.moco import NegativeQueue, ema_update_, momentum_copy
from ssl_core.training import (Compute, add_training_arguments, fingerprint, fit, resolve_compute, start_run,
                               warmup_cosine)

__all__ = ["VARIANTS", "PRETRAINED_VARIANT", "variant_settings", "finetune_hparams", "Lexed", "CoCoSoDaModule",
           "VariantSetup", "setup_variant", "ValidMRR", "train", "main"]

PRETRAINED_VARIANT = "pretrained_cocosoda"
VARIANTS = ("cocosoda", PRETRAINED_VARIANT, "no_sda", "no_queue", "no_intra")


def stage_parts(variant: str) -> tuple[str, ...]:
    """The config parts a training run of ``variant`` reads (:data:`domains.code.settings.STAGE_PARTS`)."""
    return STAGE_PARTS["finetune" if variant == PRETRAINED_VARIANT else "train"]


def finetune_hparams(hp: dict[str, Any], gpu: bool) -> tuple[dict[str, Any], int | None]:
    """(``hp`` with ``finetune.gpu`` or ``finetune.cpu`` merged over its ``model`` and ``train`` keys, the number of
    top encoder layers trained (``None``: all)): the pretrained fine-tune's settings on the device it trains on."""
    ft = dict(hp["finetune"]["gpu" if gpu else "cpu"])
    trainable = ft.pop("trainable_layers")
    model = {k: ft.pop(k) for k in ("max_code_tokens",)}
    return deep_merge(hp, {"model": model, "train": ft}), trainable


def freeze_lower_layers(encoder: MeanPoolEncoder, trainable: int | None) -> None:
    """Train only the top ``trainable`` transformer layers (the embeddings and the layers below are frozen)."""
    if trainable is None:
        return
    layers = encoder.bert.encoder.layer
    encoder.bert.embeddings.requires_grad_(False)
    for layer in layers[: max(len(layers) - trainable, 0)]:
        layer.requires_grad_(False)


def variant_settings(variant: str, hp: dict[str, Any]) -> dict[str, Any]:
    """(augmentation rates, use of momentum encoders and queues, intra-modal weight) of one variant."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    aug = dict(hp["augment"])
    if variant == "no_sda":
        aug = {k: 0.0 for k in aug}
    return {"augment": aug, "queue": variant != "no_queue",
            "intra_weight": 0.0 if variant == "no_intra" else hp["train"]["intra_weight"]}


class Lexed:
    """Training pairs as typed tokens (lexed once) plus the per-type replacement pools."""

    def __init__(self, rows: list[dict]) -> None:
        self.query = [query_tokens(r["query"]) for r in rows]
        self.code = [code_tokens(r["code"]) for r in rows]
        self.query_pools = TypePools(self.query)
        self.code_pools = TypePools(self.code)

    def __len__(self) -> int:
        return len(self.code)


class Collate:
    """Index batch -> token ids of the queries, the code and their soft-augmented copies."""

    def __init__(self, lexed: Lexed, tokenizer, model: dict[str, Any], augment: dict[str, float], seed: int) -> None:
        self.lexed, self.tok, self.model, self.aug = lexed, tokenizer, model, augment
        self.rng = random.Random(seed)

    def __call__(self, idx: list[int]) -> dict[str, torch.Tensor]:
        lx, a, m = self.lexed, self.aug, self.model
        q = [encoder_text([t for _, t in lx.query[i]]) for i in idx]
        c = [encoder_text([t for _, t in lx.code[i]]) for i in idx]
        qa = [encoder_text(soft_augment(lx.query[i], a["query_mask_rate"], a["query_replace_rate"], lx.query_pools,
                                        self.rng)) for i in idx]
        ca = [encoder_text(soft_augment(lx.code[i], a["code_mask_rate"], a["code_replace_rate"], lx.code_pools,
                                        self.rng)) for i in idx]
        out = {}
        for name, texts, n in (("q", q, m["max_query_tokens"]), ("c", c, m["max_code_tokens"]),
                               ("qa", qa, m["max_query_tokens"]), ("ca", ca, m["max_code_tokens"])):
            out[name], out[name + "_mask"] = batch_ids(self.tok, texts, n)
        return out


class CoCoSoDaModule(pl.LightningModule):
    def __init__(self, bert: dict[str, Any], hp: dict[str, Any], settings: dict[str, Any], total_steps: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        from transformers import BertConfig

        cfg = BertConfig(**bert)
        self.query_encoder = MeanPoolEncoder(BertModel(cfg, add_pooling_layer=False))
        self.code_encoder = (self.query_encoder if hp["model"]["share_encoder"]
                             else MeanPoolEncoder(BertModel(cfg, add_pooling_layer=False)))
        if settings["queue"]:
            self.query_key = momentum_copy(self.query_encoder)
            self.code_key = self.query_key if hp["model"]["share_encoder"] else momentum_copy(self.code_encoder)
            size, dim = hp["train"]["queue_size"], cfg.hidden_size
            self.query_queue = NegativeQueue(size, dim)
            self.code_queue = NegativeQueue(size, dim)

    def _keys(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.hparams.settings["queue"]:
            return (self.query_encoder(batch["qa"], batch["qa_mask"]),
                    self.code_encoder(batch["ca"], batch["ca_mask"]))
        ema_update_(self.query_key, self.query_encoder, self.hparams.hp["train"]["momentum"])
        if self.code_key is not self.query_key:
            ema_update_(self.code_key, self.code_encoder, self.hparams.hp["train"]["momentum"])
        with torch.no_grad():
            return (self.query_key(batch["qa"], batch["qa_mask"]), self.code_key(batch["ca"], batch["ca_mask"]))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        tr, st = self.hparams.hp["train"], self.hparams.settings
        q = self.query_encoder(batch["q"], batch["q_mask"])
        c = self.code_encoder(batch["c"], batch["c_mask"])
        qk, ck = self._keys(batch)
        qq = self.query_queue.keys() if st["queue"] else None
        cq = self.code_queue.keys() if st["queue"] else None
        loss, parts = cocosoda_loss(q, c, qk, ck, qq, cq, tr["temperature"], tr["inter_weight"], st["intra_weight"])
        if st["queue"]:
            self.query_queue.enqueue(qk)
            self.code_queue.enqueue(ck)
        b = q.shape[0]
        self.log("loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=b)
        self.log("inter", parts["inter"], on_step=False, on_epoch=True, batch_size=b)
        self.log("intra", parts["intra"], on_step=False, on_epoch=True, batch_size=b)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        tr = self.hparams.hp["train"]
        params = {id(p): p for p in list(self.query_encoder.parameters()) + list(self.code_encoder.parameters())
                  if p.requires_grad}
        opt = torch.optim.AdamW(list(params.values()), lr=tr["lr"], weight_decay=tr["weight_decay"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(tr["warmup_steps"], self.hparams.total_steps,
                                                                     0.05))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def mrr_of(query_emb: np.ndarray, code_emb: np.ndarray) -> float:
    """MRR when query ``i``'s answer is code ``i`` (validation split)."""
    s = query_emb @ code_emb.T
    rank = 1 + (s > np.diag(s)[:, None]).sum(1)
    return float(np.mean(1.0 / rank))


class ValidMRR(pl.Callback):
    """MRR on (up to 1000 pairs of) the validation split after each epoch's last step: the training curve. Logged
    from the last batch's end (same weights as at the epoch's end) so that the epoch's history row holds it."""

    def __init__(self, rows: list[dict], tokenizer, model: dict[str, Any]) -> None:
        self.q = [encoder_text([t for _, t in query_tokens(r["query"])]) for r in rows[:1000]]
        self.c = [encoder_text([t for _, t in code_tokens(r["code"])]) for r in rows[:1000]]
        self.tok, self.model = tokenizer, model

    def on_train_batch_end(self, trainer: pl.Trainer, module: CoCoSoDaModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if len(self.q) < 2 or batch_idx + 1 != trainer.num_training_batches:
            return
        qe = encode_texts(module.query_encoder, self.tok, self.q, self.model["max_query_tokens"])
        ce = encode_texts(module.code_encoder, self.tok, self.c, self.model["max_code_tokens"])
        module.train()
        module.log("valid_mrr", mrr_of(qe, ce), on_step=False, on_epoch=True, batch_size=1)


@dataclass
class VariantSetup:
    """What a variant trains with: its settings (``hp``, the fine-tune's merged in), tokenizer, the pretrained
    encoder and checkpoint directory (``None`` from scratch) and the top layers trained (``None``: all)."""

    variant: str
    hp: dict[str, Any]
    tokenizer: Any
    pretrained: BertModel | None = None
    folder: Path | None = None
    trainable: int | None = None

    def module(self, total_steps: int) -> CoCoSoDaModule:
        """A fresh :class:`CoCoSoDaModule` (online and key encoders from the checkpoint when pretrained, lower
        layers frozen)."""
        settings = variant_settings(self.variant, self.hp)
        pre = self.pretrained
        cfg = pre.config.to_dict() if pre is not None else bert_config(
            self.hp["model"], self.tokenizer.get_vocab_size()).to_dict()
        module = CoCoSoDaModule(json.loads(json.dumps(cfg, default=str)), self.hp, settings, total_steps)
        if pre is not None:
            online = {id(e): e for e in (module.query_encoder, module.code_encoder)}.values()
            keys = {id(e): e for e in (module.query_key, module.code_key)}.values() if settings["queue"] else ()
            for enc in [*online, *keys]:
                enc.bert.load_state_dict(pre.state_dict())
            for enc in online:
                freeze_lower_layers(enc, self.trainable)
        return module


def setup_variant(variant: str, hp: dict[str, Any], tokenizer_path: Path | None, gpu: bool) -> VariantSetup:
    """The :class:`VariantSetup` of ``variant`` from the ``code`` section (only the parts it reads are kept);
    ``gpu``: whether it trains on a GPU (``finetune.gpu`` instead of ``finetune.cpu``)."""
    hp = select_parts(hp, stage_parts(variant))
    if variant != PRETRAINED_VARIANT:
        if tokenizer_path is None:
            raise InputError(f"--tokenizer is required to train {variant} (from scratch)")
        return VariantSetup(variant, hp, load_tokenizer(tokenizer_path))
    if not hp["model"]["pretrained"]:
        raise InputError(f"config: code.variants: {PRETRAINED_VARIANT} needs code.model.pretrained (minilm or a "
                         "checkpoint directory)")
    hp, trainable = finetune_hparams(hp, gpu)
    folder = pretrained_dir(hp["model"]["pretrained"])
    pre, tok = load_pretrained(folder, hp["model"]["dropout"])
    return VariantSetup(variant, hp, tok, pre, folder, trainable)


def train(corpus: Path, tokenizer_path: Path | None, variant: str, hp: dict[str, Any], out: Path,
          threads: int | None = None, progress: bool = True, compute: Compute | None = None) -> dict[str, Any]:
    """Train one variant (see the module docstring); ``tokenizer_path``: the BPE vocabulary of the from-scratch
    variants (unused by ``pretrained_cocosoda``, which keeps its checkpoint's)."""
    compute = compute or Compute()
    setup = setup_variant(variant, hp, tokenizer_path, compute.uses_cuda())
    hp, tok, pretrained, trainable = setup.hp, setup.tokenizer, setup.folder, setup.trainable
    tr, md = hp["train"], hp["model"]
    settings = variant_settings(variant, hp)
    start_run(tr["seed"], threads)
    rows = read_pairs(corpus / "train.jsonl")
    if len(rows) < tr["batch_size"]:
        raise InputError(f"{corpus / 'train.jsonl'}: {len(rows)} pairs, fewer than one batch ({tr['batch_size']})")
    t0 = time.perf_counter()
    lexed = Lexed(rows)
    lex_seconds = time.perf_counter() - t0
    steps = tr["steps_per_epoch"] or len(rows) // tr["batch_size"]
    ablation = variant not in ("cocosoda", PRETRAINED_VARIANT)
    epochs = tr["ablation_epochs"] if ablation and tr["ablation_epochs"] is not None else tr["epochs"]
    module = setup.module(total_steps=epochs * steps)
    out.mkdir(parents=True, exist_ok=True)

    def saved(dest: Path) -> None:
        save_encoders(Encoders(module.query_encoder, module.code_encoder, tok, md["max_query_tokens"],
                               md["max_code_tokens"]), dest)

    if not (out / "encoder_init.pt").exists():
        saved(out / "encoder_init.pt")
    collate = Collate(lexed, tok, md, settings["augment"], tr["seed"])
    sampler = RandomSampler(range(len(rows)), replacement=False, num_samples=steps * tr["batch_size"])
    loader = DataLoader(range(len(rows)), batch_size=tr["batch_size"], sampler=sampler, drop_last=True,
                        collate_fn=collate, num_workers=0)
    fp = fingerprint({"variant": variant, "epochs": epochs, "steps_per_epoch": steps, "model": md, "train": tr,
                      "augment": hp["augment"], "trainable_layers": trainable}, tr["seed"],
                     inputs={"train": corpus / "train.jsonl", "valid": corpus / "valid.jsonl",
                             "tokenizer": tokenizer_path, "pretrained": pretrained}, compute=compute)
    result = fit(module, loader, ckpt_dir=out / "checkpoints", fp=fp, max_epochs=epochs, compute=compute,
                 progress=progress, stateful={"augment_rng": collate.rng},
                 callbacks=[ValidMRR(read_pairs(corpus / "valid.jsonl"), tok, md)])
    module.eval()
    saved(out / "encoder.pt")
    frame = result.history
    with atomic_path(out / "history.csv") as tmp:
        frame.to_csv(tmp)
    step = result.mean_step_seconds()
    run = {
        "variant": variant, "settings": settings, "train_pairs": len(rows), "epochs": epochs,
        "steps_per_epoch": steps, "batch_size": tr["batch_size"], "lex_seconds": lex_seconds,
        **result.as_json(),
        "step_seconds": step, "pairs_per_second": tr["batch_size"] / step if step else None,
        "parameters": sum(p.numel() for p in {id(p): p for p in list(module.query_encoder.parameters())
                                              + list(module.code_encoder.parameters())}.values()),
        "final_loss": float(frame["loss"].iloc[-1]),
        "final_valid_mrr": float(frame["valid_mrr"].iloc[-1]) if "valid_mrr" in frame else None,
        "pretrained": str(pretrained) if pretrained else None, "trainable_layers": trainable,
        "max_code_tokens": md["max_code_tokens"],
    }
    write_json(out / "run.json", run)
    return run


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.code.cocosoda.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", required=True, type=Path, help="output directory of the corpus stage")
    p.add_argument("--tokenizer", type=Path, default=None, help="BPE vocabulary (from-scratch variants)")
    p.add_argument("--variant", default="cocosoda", choices=VARIANTS)
    p.add_argument("--out", required=True, type=Path)
    add_training_arguments(p)
    args = p.parse_args(argv)
    hp = resolve_section(("code",), args.config, args.hparams, parts=stage_parts(args.variant))
    compute = resolve_compute(args.config, args.compute)
    with remove_on_failure(args.out, ("encoder.pt", "run.json", "history.csv")):
        run = train(args.corpus, args.tokenizer, args.variant, hp, args.out, args.threads, not args.no_progress,
                    compute)
    print(json.dumps(run))


if __name__ == "__main__":
    main()
