"""Published numbers the table compares against, with their source.

M3CoL, arXiv 2409.17777, Table 2 (mean of runs, in %): M3CoL and MOGONET rows. The authors' own code, run on
this kind of machine (500 epochs, seeds 0, 1, 2, 69, last epoch), reached a mean ROSMAP accuracy of 78.3 %.
"""

from __future__ import annotations

__all__ = ["PAPER"]

SOURCE = "M3CoL (arXiv 2409.17777) Table 2"

PAPER: dict[str, dict[str, dict[str, float]]] = {
    "ROSMAP": {
        "M3CoL (paper)": {"accuracy": 0.887, "f1": 0.885, "auc": 0.926},
        "MOGONET (paper)": {"accuracy": 0.815, "f1": 0.821, "auc": 0.874},
    },
    "BRCA": {
        "M3CoL (paper)": {"accuracy": 0.884, "f1_weighted": 0.890, "f1_macro": 0.862},
        "MOGONET (paper)": {"accuracy": 0.829, "f1_weighted": 0.825, "f1_macro": 0.774},
    },
}
