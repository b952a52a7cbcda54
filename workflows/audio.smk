# Audio: ESC-50 / ESC-10, the Free Spoken Digit Dataset and the user's own clips (audio.user_datasets). Shared data
# layer here (fetch -> prepare log-mels; a user's clip table is read where it is, not fetched);
# each part of the domain (CLAP, semi-supervised) lives in its own rule file included below; the targets of all
# parts are declared once in workflows/audio_common.smk.
# Every rule calls a stage's command line (python -m domains.audio.<stage>); no logic lives here.


include: "audio_common.smk"


AUDIO_DATASETS = config["audio"]["data"]["datasets"]
DOMAIN_RESULTS["audio"] = [
    *expand("results/audio/features/{dataset}.npz", dataset=AUDIO_DATASETS),
    *AUDIO_TABLE_METRICS,
    "results/audio/table.tsv",
]
DOMAIN_FIGURES["audio"] = AUDIO_FIGURES


include: "audio_semisup.smk"


rule audio_fetch:
    output:
        meta="resources/audio/{dataset}/meta.csv",
        status="resources/audio/{dataset}.fetch.json",
    params:
        mirror=data_mirror(),
    wildcard_constraints:
        dataset="esc50|fsdd",
    log:
        "logs/audio/fetch_{dataset}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    shell:
        "python -m domains.audio.data.fetch --dataset {wildcards.dataset:q} --out resources/audio/{wildcards.dataset:q}"
        " --status {output.status:q} --mirror {params.mirror:q} > {log:q} 2>&1"


rule audio_prepare:
    input:
        unpack(lambda wildcards: audio_source(wildcards.dataset)),
    output:
        "results/audio/features/{dataset}.npz",
    params:
        hparams=hparams("audio", "data", parts=audio_data_part),
    wildcard_constraints:
        dataset=audio_names_regex(DATA_DATASETS),
    log:
        "logs/audio/prepare_{dataset}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    shell:
        "python -m domains.audio.data.prepare --dataset {wildcards.dataset:q} --meta {input.meta:q} --out {output:q}"
        " --hparams {params.hparams:q} --threads {threads} > {log:q} 2>&1"


rule audio_table:
    input:
        AUDIO_TABLE_METRICS,
    output:
        report("results/audio/table.tsv", caption="../report/audio_table.rst", category="Audio", subcategory="Table"),
    log:
        "logs/audio/table.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.audio.table --metrics {input:q} --out {output:q} > {log:q} 2>&1"


# Part A: CLAP + TeminAL + zero-shot temporal evaluation.
include: "audio_clap.smk"
