"""semi-supervised error bars: test error rate per method and data set (mean +- std over runs, each run a dot), the paper's
ESC-10 figures as diamonds, and the supervised-10 % level as a dashed line. Above each bar: the mean and, for the
methods compared with supervised 10 %, the paired difference to it (mean +- standard error over the same folds and
seeds, points; negative = fewer errors).

    python -m domains.audio.semisup.figures --metrics results/audio/semisup/esc10/metrics.json ... --out semisup_error_rates.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ssl_core.errors import report_input_errors
from ssl_core.plotting import PALETTE, apply_style, plt, save_figure

from domains.audio.semisup.evaluate import LABELS

NAMES = {"esc10": "ESC-10 (5-fold CV)", "fsdd": "FSDD (upstream split)"}


def plot(metrics: list[dict], dest: Path) -> None:
    apply_style()
    bars = max([len(m["error_rate"]) + len(m.get("paper", {}).get("error_rate", {})) for m in metrics] or [1])
    width = max(5.2, 0.62 * bars + 1.5)
    fig, axes = plt.subplots(1, len(metrics), figsize=(width * len(metrics), 4.4), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        methods = list(m["error_rate"])
        paper = m.get("paper", {}).get("error_rate", {})
        labels = [LABELS[k] for k in methods] + [f"{LABELS[k]}\n(paper)" for k in paper]
        tops: list[float] = []
        for i, k in enumerate(methods):
            e = m["error_rate"][k]
            colour = PALETTE[1] if k.startswith("supervised") else PALETTE[0]
            ax.bar(i, 100 * e["mean"], yerr=100 * e["std"], color=colour, alpha=0.75, capsize=4, width=0.65)
            runs = [100 * r["test_error"] for r in e["per_run"]]
            ax.scatter(np.full(len(runs), i) + np.linspace(-0.15, 0.15, len(runs)), runs, s=12, color="black", zorder=3)
            text = f"{100 * e['mean']:.1f}"
            d = m.get("minus_supervised_10", {}).get(k)
            if d and d["se"] is not None:  # the paired difference to supervised 10 % (same folds and seeds)
                text += f"\n{100 * d['mean']:+.1f}\u00b1{100 * d['se']:.1f}"
            top = max([100 * (e["mean"] + e["std"]), *runs])  # above the error bar and every run's dot
            tops.append(top)
            ax.annotate(text, (i, top), ha="center", va="bottom", fontsize=7, xytext=(0, 3), textcoords="offset points",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
        for j, (k, v) in enumerate(paper.items()):
            x = len(methods) + j
            ax.scatter([x], [100 * v], marker="D", s=50, color=PALETTE[2], zorder=3)
            ax.annotate(f"{100 * v:.2f}", (x, 100 * v), ha="center", va="bottom", fontsize=8, xytext=(0, 4),
                        textcoords="offset points")
        if "supervised_10" in m["error_rate"]:
            ax.axhline(100 * m["error_rate"]["supervised_10"]["mean"], color=PALETTE[1], ls="--", lw=1)
        if tops:
            ax.set_ylim(0, 1.18 * max(tops))  # room for the labels above the highest bar
        ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("test error rate (%)")
        n = next(iter(m["error_rate"].values()))["n_runs"] if m["error_rate"] else 0
        ax.set_title(f"{NAMES.get(m['dataset'], m['dataset'])}, 10 % labels ({n} runs per method)")
    save_figure(fig, dest)


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.semisup.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("--metrics", nargs="+", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    plot([json.loads(m.read_text()) for m in args.metrics], args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
