# Deep metric learning on class-disjoint data (ESC-50 classes, held-out genomic species): data -> train (one job
# per data set and seed, every method) -> evaluate -> table, figures. The choice grid (metric_tune) is not part of
# `rule all`. Every rule calls a stage's command line (python -m domains.metric.<stage>); no logic lives here.


include: "metric_common.smk"


DOMAIN_RESULTS["metric"] = [
    *expand("results/metric/{dataset}/metrics.json", dataset=METRIC_DATASETS),
    "results/metric/table.tsv",
]
DOMAIN_FIGURES["metric"] = METRIC_FIGURES


rule metric_data:
    input:
        metric_source,
    output:
        "results/metric/data/{dataset}.npz",
    params:
        hparams=hparams("metric", parts=METRIC_PARTS["data"]),
    wildcard_constraints:
        dataset="esc50|species",
    log:
        "logs/metric/data_{dataset}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    shell:
        "python -m domains.metric.data.build --dataset {wildcards.dataset:q} --source {input:q} --out {output:q}"
        " --hparams {params.hparams:q} > {log:q} 2>&1"


rule metric_train:
    input:
        "results/metric/data/{dataset}.npz",
    output:
        embeddings="results/metric/{dataset}/seed{seed}/embeddings.npz",
        run="results/metric/{dataset}/seed{seed}/run.json",
    params:
        compute=COMPUTE,
        hparams=hparams("metric", dataset="dataset", parts=METRIC_PARTS["train"]),
    wildcard_constraints:
        dataset="esc50|species",
    log:
        "logs/metric/train_{dataset}_seed{seed}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    shell:
        "python -m domains.metric.metrix.train --data {input:q} --dataset {wildcards.dataset:q}"
        " --seed {wildcards.seed:q} --out results/metric/{wildcards.dataset:q}/seed{wildcards.seed:q}"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule metric_evaluate:
    input:
        metric_embeddings,
    output:
        "results/metric/{dataset}/metrics.json",
    params:
        hparams=hparams("metric", parts=METRIC_PARTS["evaluate"]),
    wildcard_constraints:
        dataset="esc50|species",
    log:
        "logs/metric/evaluate_{dataset}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m domains.metric.metrix.evaluate --dataset {wildcards.dataset:q} --embeddings {input:q}"
        " --out {output:q} --hparams {params.hparams:q} > {log:q} 2>&1"


rule metric_table:
    input:
        expand("results/metric/{dataset}/metrics.json", dataset=METRIC_DATASETS),
    output:
        report("results/metric/table.tsv", caption="../report/metric_table.rst", category="Metric learning (Metrix)"),
    log:
        "logs/metric/table.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.metric.metrix.table --metrics {input:q} --out {output:q} > {log:q} 2>&1"


rule metric_figures:
    input:
        metrics=expand("results/metric/{dataset}/metrics.json", dataset=METRIC_DATASETS),
        embeddings=expand(
            "results/metric/{dataset}/seed{seed}/embeddings.npz", dataset=METRIC_DATASETS, seed=METRIC_SEEDS[:1]
        ),
    output:
        recall=report(
            METRIC_FIGURES[0], caption="../report/metric_recall.rst", category="Metric learning (Metrix)"
        ),
        projection=report(
            METRIC_FIGURES[1], caption="../report/metric_projection.rst", category="Metric learning (Metrix)"
        ),
    log:
        "logs/metric/figures.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m domains.metric.metrix.figures --metrics {input.metrics:q} --embeddings {input.embeddings:q}"
        " --recall {output.recall:q} --projection {output.projection:q} > {log:q} 2>&1"


# The choice grid on validation classes carved from the training classes (not in `rule all`):
#   snakemake --cores 2 results/metric/tune/esc50.json; then commit the chosen values to config/config.yaml.
rule metric_tune:
    input:
        "results/metric/data/{dataset}.npz",
    output:
        "results/metric/tune/{dataset}.json",
    params:
        compute=COMPUTE,
        hparams=hparams("metric", dataset="dataset", parts=METRIC_PARTS["tune"]),
    wildcard_constraints:
        dataset="esc50|species",
    log:
        "logs/metric/tune_{dataset}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    shell:
        "python -m domains.metric.metrix.tune --data {input:q} --dataset {wildcards.dataset:q} --out {output:q}"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} > {log:q} 2>&1"
