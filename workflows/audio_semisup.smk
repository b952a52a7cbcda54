# Audio part B: semi-supervised classification (MixMatch, FixMatch, FixMatch + mixup) against supervised training
# on 10 % and 100 % of the labels, a small CNN on the log-mels of the shared data layer (workflows/audio.smk).
# One i-Mix pretraining job per data set, test fold and seed (shared by the methods that use unlabelled clips), one
# training job per data set, method, test fold and seed; then per-data-set metrics, the semi-supervised figure,
# and rows for results/audio/table.tsv.


include: "audio_semisup_common.smk"


rule audio_semisup_pretrain:
    input:
        audio_semisup_features,
    output:
        trunk="results/audio/semisup/{semisup_dataset}/pretrain/fold{fold}_seed{seed}/trunk.pt",
        info="results/audio/semisup/{semisup_dataset}/pretrain/fold{fold}_seed{seed}/pretrain.json",
    params:
        compute=COMPUTE,
        hparams=hparams("audio", "semisup", dataset="semisup_dataset", parts=lambda w: semisup_parts("pretrain", w.semisup_dataset)),
        out="results/audio/semisup/{semisup_dataset}/pretrain/fold{fold}_seed{seed}",
    wildcard_constraints:
        semisup_dataset=audio_names_regex(SEMISUP_SHIPPED),
        fold="[0-9]+",
    log:
        "logs/audio/semisup/{semisup_dataset}_pretrain_fold{fold}_seed{seed}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=3000,
        runtime=30,
    shell:
        "python -m domains.audio.semisup.pretrain --features {input:q} --dataset {wildcards.semisup_dataset:q}"
        " --fold {wildcards.fold:q} --seed {wildcards.seed} --out {params.out:q}"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule audio_semisup_train:
    input:
        unpack(lambda wildcards: {"features": audio_semisup_features(wildcards), **audio_semisup_trunk(wildcards)}),
    output:
        result="results/audio/semisup/{semisup_dataset}/{semisup_method}/fold{fold}_seed{seed}/result.json",
        history="results/audio/semisup/{semisup_dataset}/{semisup_method}/fold{fold}_seed{seed}/history.csv",
    params:
        compute=COMPUTE,
        hparams=hparams("audio", "semisup", dataset="semisup_dataset", parts=lambda w: semisup_parts("train", w.semisup_dataset)),
        out="results/audio/semisup/{semisup_dataset}/{semisup_method}/fold{fold}_seed{seed}",
        trunk=audio_semisup_trunk_arg,
    wildcard_constraints:
        semisup_dataset=audio_names_regex(SEMISUP_SHIPPED),
        semisup_method="supervised_10|supervised_100|imix_finetune|mixmatch|fixmatch|fixmatch_mixup|selftrain_mixup",
        fold="[0-9]+",
    log:
        "logs/audio/semisup/{semisup_dataset}_{semisup_method}_fold{fold}_seed{seed}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=3000,
        runtime=30,
    shell:
        "python -m domains.audio.semisup.train --features {input.features:q} --dataset {wildcards.semisup_dataset:q}"
        " --method {wildcards.semisup_method:q} --fold {wildcards.fold:q} --seed {wildcards.seed} --out {params.out:q}"
        " --hparams {params.hparams:q} {params.trunk} --compute {params.compute:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule audio_semisup_evaluate:
    input:
        audio_semisup_runs,
    output:
        "results/audio/semisup/{semisup_dataset}/metrics.json",
    wildcard_constraints:
        semisup_dataset=audio_names_regex(SEMISUP_SHIPPED),
    log:
        "logs/audio/semisup/{semisup_dataset}_evaluate.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.audio.semisup.evaluate --dataset {wildcards.semisup_dataset:q} --results {input:q}"
        " --out {output:q} > {log:q} 2>&1"


rule audio_semisup_figures:
    input:
        AUDIO_SEMISUP_METRICS,
    output:
        report(
            "results/audio/figures/semisup_error_rates.png",
            caption="../report/audio_semisup_error_rates.rst",
            category="Audio",
            subcategory="Semi-supervised",
        ),
    log:
        "logs/audio/semisup/figures.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.audio.semisup.figures --metrics {input:q} --out {output:q} > {log:q} 2>&1"
