# DNABERT-S on real bacterial genomes: fetch -> preprocess -> tokenize -> train (C^2LR) -> embed -> evaluate,
# figures. Every rule calls a stage's command line (python -m domains.genomics.<stage>); no logic lives here.


include: "genomics_common.smk"


GENOMICS_FIGURES = [
    "results/genomics/figures/umap.png",
    "results/genomics/figures/ari.png",
    "results/genomics/figures/few_shot.png",
]
DOMAIN_RESULTS["genomics"] = ["results/genomics/metrics.json", "results/genomics/table.tsv"]
DOMAIN_FIGURES["genomics"] = GENOMICS_FIGURES


rule genomics_fetch:
    output:
        sheet="resources/genomics/genomes/samples.tsv",
        status="resources/genomics/genomes.fetch.json",
    params:
        mirror=data_mirror(),
    log:
        "logs/genomics/fetch.log",
    conda:
        "../envs/genomics.yaml"
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "python -m domains.genomics.data.fetch --out resources/genomics/genomes --status {output.status:q}"
        " --mirror {params.mirror:q} > {log:q} 2>&1"


rule genomics_preprocess:
    input:
        sheet=genomics_sample_sheet(),
    output:
        fragments="results/genomics/data/fragments.npz",
        split="results/genomics/data/split.json",
    params:
        hparams=hparams("genomics", parts=GENOMICS_PARTS["preprocess"]),
    log:
        "logs/genomics/preprocess.log",
    conda:
        "../envs/genomics.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "python -m domains.genomics.data.preprocess --samples {input.sheet:q} --out results/genomics/data"
        " --hparams {params.hparams:q} > {log:q} 2>&1"


rule genomics_tokenize:
    input:
        "results/genomics/data/fragments.npz",
    output:
        tokenizer="results/genomics/tokens/tokenizer.json",
        stats="results/genomics/tokens/tokens.json",
        eval="results/genomics/tokens/eval.npz",
        shards=directory("results/genomics/tokens/train"),
    params:
        hparams=hparams("genomics", parts=GENOMICS_PARTS["tokenize"]),
    log:
        "logs/genomics/tokenize.log",
    conda:
        "../envs/genomics.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "python -m domains.genomics.dnabert_s.tokenize --fragments {input:q} --out results/genomics/tokens"
        " --hparams {params.hparams:q} --threads {threads} > {log:q} 2>&1"


rule genomics_train:
    input:
        stats="results/genomics/tokens/tokens.json",
        shards="results/genomics/tokens/train",
    output:
        encoder="results/genomics/train/encoder.pt",
        init="results/genomics/train/encoder_init.pt",
        run="results/genomics/train/run.json",
        history="results/genomics/train/history.csv",
    params:
        compute=COMPUTE,
        hparams=hparams("genomics", parts=GENOMICS_PARTS["train"]),
    log:
        "logs/genomics/train.log",
    conda:
        "../envs/genomics.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=90,
    shell:
        "python -m domains.genomics.dnabert_s.train --tokens results/genomics/tokens --out results/genomics/train"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} > {log:q} 2>&1"


rule genomics_embed:
    input:
        fragments="results/genomics/data/fragments.npz",
        eval="results/genomics/tokens/eval.npz",
        encoder="results/genomics/train/encoder.pt",
        init="results/genomics/train/encoder_init.pt",
    output:
        fragments="results/genomics/embeddings.h5ad",
        contigs="results/genomics/contigs.h5ad",
    params:
        hparams=hparams("genomics", parts=GENOMICS_PARTS["embed"]),
    log:
        "logs/genomics/embed.log",
    conda:
        "../envs/genomics.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m domains.genomics.dnabert_s.embed --fragments {input.fragments:q} --tokens results/genomics/tokens"
        " --train results/genomics/train --out {output.fragments:q} --contigs-out {output.contigs:q}"
        " --hparams {params.hparams:q} --threads {threads} > {log:q} 2>&1"


rule genomics_evaluate:
    input:
        fragments="results/genomics/embeddings.h5ad",
        contigs="results/genomics/contigs.h5ad",
        run="results/genomics/train/run.json",
    output:
        metrics="results/genomics/metrics.json",
        table=report(
            "results/genomics/table.tsv",
            caption="../report/genomics_table.rst",
            category="Genomics (DNABERT-S)",
        ),
    params:
        hparams=hparams("genomics", parts=GENOMICS_PARTS["evaluate"]),
    log:
        "logs/genomics/evaluate.log",
    conda:
        "../envs/genomics.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "python -m domains.genomics.dnabert_s.evaluate --embeddings {input.fragments:q} --contigs {input.contigs:q}"
        " --train-run {input.run:q} --metrics {output.metrics:q} --table {output.table:q}"
        " --hparams {params.hparams:q} > {log:q} 2>&1"


rule genomics_figures:
    input:
        fragments="results/genomics/embeddings.h5ad",
        metrics="results/genomics/metrics.json",
    output:
        umap=report(
            GENOMICS_FIGURES[0],
            caption="../report/genomics_umap.rst",
            category="Genomics (DNABERT-S)",
        ),
        ari=report(
            GENOMICS_FIGURES[1],
            caption="../report/genomics_ari.rst",
            category="Genomics (DNABERT-S)",
        ),
        few_shot=report(
            GENOMICS_FIGURES[2],
            caption="../report/genomics_few_shot.rst",
            category="Genomics (DNABERT-S)",
        ),
    log:
        "logs/genomics/figures.log",
    conda:
        "../envs/genomics.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m domains.genomics.dnabert_s.figures --embeddings {input.fragments:q} --metrics {input.metrics:q}"
        " --umap {output.umap:q} --ari {output.ari:q} --few-shot {output.few_shot:q} > {log:q} 2>&1"
