# M3CoL, MOGONET and logistic regression on multi-omics data (ROSMAP, BRCA, TCGA-BRCA, yours): fetch (yours: check) -> prepare ->
# train (per method and seed) -> evaluate -> table, figures. Every rule calls a stage's command line (python -m domains.medical.<stage>); no logic lives here.


include: "medical_common.smk"


MEDICAL_FIGURES = [
    "results/medical/figures/metrics_vs_paper.png",
    "results/medical/figures/training_curves.png",
    "results/medical/figures/accuracy_per_seed.png",
    "results/medical/figures/table_vs_paper.png",
]
DOMAIN_RESULTS["medical"] = ["results/medical/table.tsv"]
DOMAIN_FIGURES["medical"] = MEDICAL_FIGURES
DOMAIN_EXTRA_TABLES["medical"] = [
    ("results/medical/resplit/table.tsv", "Re-split protocol (snakemake medical_resplit, outside make run)")
]


checkpoint medical_fetch:
    input:
        medical_fetch_inputs,
    output:
        status="resources/medical/{dataset}.fetch.json",
    params:
        source=medical_source("fetch"),
    log:
        "logs/medical/{dataset}/fetch.log",
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "python -m domains.medical.data.fetch --dataset {wildcards.dataset:q} {params.source} --status {output.status:q}"
        " > {log:q} 2>&1"


rule medical_prepare:
    input:
        status="resources/medical/{dataset}.fetch.json",
        user_files=medical_fetch_inputs,  # a user's cohort: an edited file reruns this job (its status is unchanged)
    output:
        "results/medical/{dataset}/data.h5ad",
    params:
        source=medical_source("prepare"),
        hparams=hparams("medical", dataset="dataset", parts=MEDICAL_PARTS["prepare"]),
    log:
        "logs/medical/{dataset}/prepare.log",
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m domains.medical.data.prepare --dataset {wildcards.dataset:q} {params.source}"
        " --out {output:q} --hparams {params.hparams:q} > {log:q} 2>&1"


rule medical_train:
    input:
        "results/medical/{dataset}/data.h5ad",
    output:
        run="results/medical/{dataset}/{method}/seed{seed}/run.json",
        predictions="results/medical/{dataset}/{method}/seed{seed}/predictions.tsv",
        history="results/medical/{dataset}/{method}/seed{seed}/history.csv",
    params:
        compute=medical_compute,
        hparams=hparams("medical", dataset="dataset", parts=lambda w: MEDICAL_PARTS[f"train_{w.method}"]),
        out="results/medical/{dataset}/{method}/seed{seed}",
    log:
        "logs/medical/{dataset}/{method}/train_seed{seed}.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    shell:
        "python -m domains.medical.m3col.train --data {input:q} --method {wildcards.method} --seed {wildcards.seed}"
        " --out {params.out:q}"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} > {log:q} 2>&1"


rule medical_evaluate:
    input:
        runs=medical_seed_outputs("run.json"),
    output:
        "results/medical/{dataset}/{method}/metrics.json",
    log:
        "logs/medical/{dataset}/{method}/evaluate.log",
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m domains.medical.m3col.evaluate --runs {input.runs:q} --out {output:q} > {log:q} 2>&1"


rule medical_table:
    input:
        metrics=medical_metrics,
        statuses=medical_fetch_statuses,
    output:
        report(
            "results/medical/table.tsv",
            caption="../report/medical_table.rst",
            category="Medical multi-omics (M3CoL)",
        ),
    log:
        "logs/medical/table.log",
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m domains.medical.m3col.table --metrics {input.metrics:q} --statuses {input.statuses:q} --out {output:q}"
        " > {log:q} 2>&1"


rule medical_figures:
    input:
        metrics=medical_metrics,
        histories=medical_histories,
        table="results/medical/table.tsv",
    output:
        bars=report(
            MEDICAL_FIGURES[0],
            caption="../report/medical_metrics_vs_paper.rst",
            category="Medical multi-omics (M3CoL)",
        ),
        curves=report(
            MEDICAL_FIGURES[1],
            caption="../report/medical_training_curves.rst",
            category="Medical multi-omics (M3CoL)",
        ),
        seeds=report(
            MEDICAL_FIGURES[2],
            caption="../report/medical_accuracy_per_seed.rst",
            category="Medical multi-omics (M3CoL)",
        ),
        table=report(
            MEDICAL_FIGURES[3],
            caption="../report/medical_table_figure.rst",
            category="Medical multi-omics (M3CoL)",
        ),
    log:
        "logs/medical/figures.log",
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m domains.medical.m3col.figures --metrics {input.metrics:q} --histories {input.histories:q}"
        " --table {input.table:q} --bars {output.bars:q} --curves {output.curves:q} --seeds {output.seeds:q}"
        " --table-figure {output.table:q} > {log:q} 2>&1"


# M3CoL's settings by cross-validation on the fixed split's training rows (not in `rule all`):
#   snakemake --cores 1 results/medical/select/ROSMAP.json; then commit the record to config/medical_select/ and its
#   `chosen` values to config/config.yaml (medical.dataset_overrides).
rule medical_select:
    input:
        "results/medical/{dataset}/data.h5ad",
    output:
        "results/medical/select/{dataset}.json",
    params:
        compute=COMPUTE,
        hparams=hparams("medical", dataset="dataset", parts=MEDICAL_PARTS["select"]),
    log:
        "logs/medical/{dataset}/select.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=240,
    shell:
        "python -m domains.medical.m3col.select --data {input:q} --out {output:q} --protocol fixed --split 0"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} > {log:q} 2>&1"


# The re-split protocol (not in `rule all`): snakemake --cores 1 medical_resplit. medical.resplit.n seeded stratified
# re-splits of all rows (the fixed split's test size), per re-split M3CoL's settings chosen inside its training
# rows (medical.resplit.select), one seed of each of medical.resplit.methods, then mean, standard error and the
# paired difference to logistic regression over the re-splits.
rule medical_resplit_select:
    input:
        "results/medical/{dataset}/data.h5ad",
    output:
        "results/medical/resplit/{dataset}/select/split{seed}.json",
    params:
        compute=COMPUTE,
        hparams=hparams("medical", dataset="dataset", parts=MEDICAL_PARTS["select"]),
    log:
        "logs/medical/{dataset}/resplit/select_split{seed}.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=240,
    shell:
        "python -m domains.medical.m3col.select --data {input:q} --out {output:q} --protocol resplit"
        " --split {wildcards.seed} --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads}"
        " > {log:q} 2>&1"


rule medical_resplit_train:
    input:
        data="results/medical/{dataset}/data.h5ad",
        chosen=medical_resplit_chosen,
    output:
        run="results/medical/resplit/{dataset}/{method}/split{seed}/run.json",
        predictions="results/medical/resplit/{dataset}/{method}/split{seed}/predictions.tsv",
        history="results/medical/resplit/{dataset}/{method}/split{seed}/history.csv",
    params:
        chosen=medical_chosen_option,
        compute=medical_compute,
        hparams=hparams("medical", dataset="dataset", parts=lambda w: MEDICAL_PARTS[f"train_{w.method}"]),
        out="results/medical/resplit/{dataset}/{method}/split{seed}",
    log:
        "logs/medical/{dataset}/resplit/{method}/train_split{seed}.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    shell:
        "python -m domains.medical.m3col.train --data {input.data:q} --method {wildcards.method} --protocol resplit"
        " --seed {wildcards.seed} --out {params.out:q} {params.chosen}"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} > {log:q} 2>&1"


rule medical_resplit_evaluate:
    input:
        runs=medical_resplit_outputs("run.json"),
    output:
        "results/medical/resplit/{dataset}/{method}/metrics.json",
    log:
        "logs/medical/{dataset}/resplit/{method}/evaluate.log",
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m domains.medical.m3col.evaluate --runs {input.runs:q} --out {output:q} > {log:q} 2>&1"


rule medical_resplit:
    input:
        metrics=medical_resplit_metrics,
        statuses=medical_resplit_statuses,
    output:
        "results/medical/resplit/table.tsv",
    log:
        "logs/medical/resplit_table.log",
    conda:
        "../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m domains.medical.m3col.table --protocol resplit --metrics {input.metrics:q}"
        " --statuses {input.statuses:q} --out {output:q} > {log:q} 2>&1"
