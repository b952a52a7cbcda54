# Audio part B: semi-supervised classification (MixMatch, FixMatch, FixMatch + mixup) against supervised training
# on 10 % and 100 % of the labels, a small CNN on the log-mels of the shared data layer (workflows/audio.smk).
# One i-Mix pretraining job per data set, test fold and seed (shared by the methods that use unlabelled clips), one
# training job per data set, method, test fold and seed; then per-data-set metrics, the SSL figure, and rows for
# results/audio/table.tsv.


include: "audio_ssl_common.smk"


AUDIO_SSL_METRICS = expand("results/audio/ssl/{ssl_dataset}/metrics.json", ssl_dataset=config["audio"]["ssl"]["datasets"])
AUDIO_SSL_FIGURES = ["results/audio/figures/ssl_error_rates.png"] if AUDIO_SSL_METRICS else []
AUDIO_TABLE_METRICS.extend(AUDIO_SSL_METRICS)
AUDIO_FIGURES.extend(AUDIO_SSL_FIGURES)
DOMAIN_RESULTS["audio"].extend(AUDIO_SSL_METRICS)


rule audio_ssl_pretrain:
    input:
        audio_ssl_features,
    output:
        trunk="results/audio/ssl/{ssl_dataset}/pretrain/fold{fold}_seed{seed}/trunk.pt",
        info="results/audio/ssl/{ssl_dataset}/pretrain/fold{fold}_seed{seed}/pretrain.json",
    params:
        compute=COMPUTE,
        hparams=hparams("audio", "ssl", dataset="ssl_dataset", parts=lambda w: semisup_parts("pretrain", w.ssl_dataset)),
        out="results/audio/ssl/{ssl_dataset}/pretrain/fold{fold}_seed{seed}",
    wildcard_constraints:
        ssl_dataset="esc10|fsdd",
        fold="[0-5]",
    log:
        "logs/audio/ssl/{ssl_dataset}_pretrain_fold{fold}_seed{seed}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=3000,
        runtime=30,
    shell:
        "python -m domains.audio.ssl_pretrain --features {input:q} --dataset {wildcards.ssl_dataset:q}"
        " --fold {wildcards.fold:q} --seed {wildcards.seed} --out {params.out:q}"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule audio_ssl_train:
    input:
        unpack(lambda wildcards: {"features": audio_ssl_features(wildcards), **audio_ssl_trunk(wildcards)}),
    output:
        result="results/audio/ssl/{ssl_dataset}/{ssl_method}/fold{fold}_seed{seed}/result.json",
        history="results/audio/ssl/{ssl_dataset}/{ssl_method}/fold{fold}_seed{seed}/history.csv",
    params:
        compute=COMPUTE,
        hparams=hparams("audio", "ssl", dataset="ssl_dataset", parts=lambda w: semisup_parts("train", w.ssl_dataset)),
        out="results/audio/ssl/{ssl_dataset}/{ssl_method}/fold{fold}_seed{seed}",
        trunk=audio_ssl_trunk_arg,
    wildcard_constraints:
        ssl_dataset="esc10|fsdd",
        ssl_method="supervised_10|supervised_100|imix_finetune|mixmatch|fixmatch|fixmatch_mixup|selftrain_mixup",
        fold="[0-5]",
    log:
        "logs/audio/ssl/{ssl_dataset}_{ssl_method}_fold{fold}_seed{seed}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=3000,
        runtime=30,
    shell:
        "python -m domains.audio.ssl_train --features {input.features:q} --dataset {wildcards.ssl_dataset:q}"
        " --method {wildcards.ssl_method:q} --fold {wildcards.fold:q} --seed {wildcards.seed} --out {params.out:q}"
        " --hparams {params.hparams:q} {params.trunk} --compute {params.compute:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule audio_ssl_evaluate:
    input:
        audio_ssl_runs,
    output:
        "results/audio/ssl/{ssl_dataset}/metrics.json",
    wildcard_constraints:
        ssl_dataset="esc10|fsdd",
    log:
        "logs/audio/ssl/{ssl_dataset}_evaluate.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.audio.ssl_evaluate --dataset {wildcards.ssl_dataset:q} --results {input:q}"
        " --out {output:q} > {log:q} 2>&1"


rule audio_ssl_figures:
    input:
        AUDIO_SSL_METRICS,
    output:
        report(
            "results/audio/figures/ssl_error_rates.png",
            caption="../report/audio_ssl_error_rates.rst",
            category="Audio",
            subcategory="Semi-supervised",
        ),
    log:
        "logs/audio/ssl/figures.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.audio.ssl_figures --metrics {input:q} --out {output:q} > {log:q} 2>&1"
