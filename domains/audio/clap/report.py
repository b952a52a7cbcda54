"""Collect the CLAP stages' evaluations into ``metrics.json`` and draw the two figures.

    python -m domains.audio.clap.report --evals results/audio/clap/{plain,stageA,stageB}/eval.json \
        --runs results/audio/clap/{plain,stageA,stageB}/run.json --metrics results/audio/clap/metrics.json \
        --confusion results/audio/clap/figures/zeroshot_confusion.png \
        --temporal results/audio/clap/figures/temporal_per_stage.png

``metrics.json``: ``stages`` (one entry per stage in curriculum order with ``zs_top1``, ``zs_top5``, ``a2t_r1``,
``t2a_r1``, ``temporal_acc`` and the other ZSTE scores, training time and step time), ``chance`` (the chance level
of each score), ``unseen_classes``, and ``questions``: whether stage B improves temporal accuracy over the plain
model and whether its zero-shot top-1 stays within 0.05 of the plain model's (the TeminAL paper's question).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ssl_core.atomic import write_json  # noqa: E402
from ssl_core.errors import InputError, report_input_errors  # noqa: E402
from ssl_core.plotting import PALETTE, apply_style, save_figure  # noqa: E402

__all__ = ["collect", "table_rows", "plot_confusion", "plot_temporal", "main"]

KEYS = ("zs_top1", "zs_top5", "a2t_r1", "t2a_r1", "a2t_r5", "t2a_r5", "temporal_acc", "seen_val_top1",
        "seen_val_temporal_acc", "reversed_caption_cosine", "reversed_caption_cosine_frozen_minilm")
LABELS = {"plain": "plain contrastive", "stageA": "+ stage A (multi-sound)", "stageB": "+ stage B (ordered pairs)"}


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the JSON ({exc.__class__.__name__})") from None


def collect(evals: list[Path], runs: list[Path], dataset: str = "esc50") -> dict[str, Any]:
    """One metrics document from the per-stage evaluation and training JSONs (same order) of ``dataset``."""
    if len(evals) != len(runs):
        raise InputError("--evals and --runs need one file per stage each")
    stages: dict[str, Any] = {}
    first: dict[str, Any] = {}
    for ev_path, run_path in zip(evals, runs):
        ev, run = _read(ev_path), _read(run_path)
        first = first or ev
        missing = [k for k in KEYS if k not in ev]
        if missing:
            raise InputError(f"{ev_path}: missing {', '.join(missing)}")
        stages[ev["stage"]] = {**{k: ev[k] for k in KEYS}, "train_steps": run["steps"],
                               "fit_seconds": run["fit_seconds"], "step_seconds": run["step_seconds_mean"],
                               "compose_logmel_clips_per_second": run["compose_logmel_clips_per_second"]}
    out: dict[str, Any] = {"dataset": dataset, "stages": stages, "chance": first["chance"], "unseen_classes": first["unseen_classes"],
                           "unseen_clips": first["unseen_clips"], "temporal_pairs": first["temporal_pairs"],
                           "retrieval_items": first["retrieval_items"]}
    out["table_rows"] = table_rows(out)
    if "plain" in stages and "stageB" in stages:
        p, b = stages["plain"], stages["stageB"]
        out["questions"] = {
            "stageB_temporal_gain_over_plain": b["temporal_acc"] - p["temporal_acc"],
            "stageB_zs_top1_change_vs_plain": b["zs_top1"] - p["zs_top1"],
            "stageB_adds_temporal_without_losing_zero_shot": bool(
                b["temporal_acc"] > p["temporal_acc"] and b["zs_top1"] >= p["zs_top1"] - 0.05),
        }
    return out


def table_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for ``results/audio/table.tsv`` (``domains.audio.table`` convention): the five headline scores per
    stage, then their chance levels."""
    n_unseen = len(metrics["unseen_classes"])
    dataset = f"{metrics['dataset']} ({n_unseen} unseen classes)"
    counts = {"zs_top1": metrics["unseen_clips"], "zs_top5": metrics["unseen_clips"],
              "a2t_r1": metrics["retrieval_items"], "t2a_r1": metrics["retrieval_items"],
              "temporal_acc": metrics["temporal_pairs"]}
    rows = [{"part": "clap", "dataset": dataset, "method": f"CLAP {LABELS.get(stage, stage)}", "metric": key,
             "value": values[key], "std": None, "n": counts[key], "source": "this workflow, last step, seed 0"}
            for stage, values in metrics["stages"].items() for key in counts]
    chance = metrics["chance"]
    for key, value in (("zs_top1", chance["zs_top1"]), ("zs_top5", chance["zs_top5"]), ("a2t_r1", chance["r1"]),
                       ("t2a_r1", chance["r1"]), ("temporal_acc", chance["temporal_acc"])):
        rows.append({"part": "clap", "dataset": dataset, "method": "chance", "metric": key, "value": value,
                     "std": None, "n": None, "source": "chance: k / number of candidates"})
    return rows


def plot_confusion(ev: dict[str, Any], dest: Path) -> None:
    """Row-normalised zero-shot confusion matrix of the last stage on the unseen classes."""
    apply_style()
    names = ev["confusion"]["classes"]
    m = np.asarray(ev["confusion"]["matrix"], dtype=float)
    m = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(names), 0.6 + 0.5 * len(names)))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            if m[i, j] >= 0.05:
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted (zero-shot)")
    ax.set_ylabel("true class (never trained on)")
    ax.set_title(f"Zero-shot confusion, {LABELS.get(ev['stage'], ev['stage'])}: top-1 {ev['zs_top1']:.2f} "
                 f"(chance {ev['chance']['zs_top1']:.2f})")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the row")
    save_figure(fig, dest)


def plot_temporal(metrics: dict[str, Any], dest: Path) -> None:
    """Temporal-order accuracy and zero-shot top-1 per stage, with their chance levels."""
    apply_style()
    stages = list(metrics["stages"])
    x = np.arange(len(stages))
    w = 0.38
    fig, ax = plt.subplots(figsize=(7, 4))
    ta = [metrics["stages"][s]["temporal_acc"] for s in stages]
    zs = [metrics["stages"][s]["zs_top1"] for s in stages]
    b1 = ax.bar(x - w / 2, ta, w, color=PALETTE[0], label="temporal-order accuracy (unseen pairs)")
    b2 = ax.bar(x + w / 2, zs, w, color=PALETTE[1], label="zero-shot top-1 (unseen classes)")
    ax.axhline(0.5, color=PALETTE[0], ls="--", lw=1, label="chance, temporal (0.5)")
    ax.axhline(metrics["chance"]["zs_top1"], color=PALETTE[1], ls=":", lw=1,
               label=f"chance, zero-shot ({metrics['chance']['zs_top1']:.2f})")
    for bars in (b1, b2):
        for bar in bars:
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01, f"{bar.get_height():.2f}",
                    ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [LABELS.get(s, s) for s in stages])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title("CLAP curriculum: does stage B add temporal order without losing zero-shot accuracy?")
    ax.legend(fontsize=8, loc="upper left")
    save_figure(fig, dest)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.clap.report", description=__doc__.split("\n\n")[0])
    p.add_argument("--evals", nargs="+", required=True, type=Path, help="eval.json per stage, curriculum order")
    p.add_argument("--runs", nargs="+", required=True, type=Path, help="run.json per stage, same order")
    p.add_argument("--metrics", type=Path, default=None)
    p.add_argument("--confusion", type=Path, default=None)
    p.add_argument("--temporal", type=Path, default=None)
    p.add_argument("--dataset", default="esc50", help="the data set's name in the table (audio.clap.dataset)")
    args = p.parse_args(argv)
    metrics = collect(args.evals, args.runs, args.dataset)
    if args.metrics:
        write_json(args.metrics, metrics)
    if args.confusion:
        args.confusion.parent.mkdir(parents=True, exist_ok=True)
        plot_confusion(_read(args.evals[-1]), args.confusion)
    if args.temporal:
        args.temporal.parent.mkdir(parents=True, exist_ok=True)
        plot_temporal(metrics, args.temporal)
    print(json.dumps(metrics.get("questions", {})))


if __name__ == "__main__":
    main()
