# Helpers of the metric rules (workflows/metric.smk), included at its top. No rules live here.
from domains.metric.settings import STAGE_PARTS as METRIC_PARTS

METRIC_DATASETS = config["metric"]["datasets"]
METRIC_SEEDS = config["metric"]["seeds"]
METRIC_FIGURES = [
    "results/metric/figures/recall_at_k.png",
    "results/metric/figures/projection.png",
]


def metric_source(wildcards):
    """The other domain's output a metric data set is built from."""
    if wildcards.dataset == "esc50":
        return "results/audio/features/esc50.npz"
    return "results/genomics/data/fragments.npz"


def metric_embeddings(wildcards):
    return expand("results/metric/{dataset}/seed{seed}/embeddings.npz", dataset=wildcards.dataset, seed=METRIC_SEEDS)
