# Audio part A: CLAP + TeminAL + zero-shot temporal evaluation (domains/audio/clap/): captions -> train plain ->
# stage A -> stage B (each from the previous) -> evaluate each -> report.
# Included from workflows/audio.smk (data layer rules there); helpers in workflows/audio_clap_common.smk.
# Every rule calls a stage's command line.


include: "audio_clap_common.smk"


rule audio_clap_captions:
    input:
        unpack(audio_clap_source),
    output:
        "results/audio/clap/captions.pt",
    params:
        # only the class split decides the captions: a training setting's edit does not re-encode them
        hparams=hparams("audio", "clap", parts=CLAP_PARTS["captions"]),
    log:
        "logs/audio/clap_captions.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=15,
    shell:
        "HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python -m domains.audio.clap.text --meta {input.meta:q}"
        " --out {output:q} --hparams {params.hparams:q} --threads {threads} > {log:q} 2>&1"


rule audio_clap_train:
    input:
        unpack(audio_clap_source),
        captions="results/audio/clap/captions.pt",
        init=audio_clap_previous,
    output:
        model="results/audio/clap/{stage}/model.pt",
        run="results/audio/clap/{stage}/run.json",
        history="results/audio/clap/{stage}/history.csv",
    wildcard_constraints:
        stage="plain|stageA|stageB",
    params:
        compute=COMPUTE,
        hparams=hparams("audio", "clap", parts=CLAP_PARTS["train"]),
        init=audio_clap_init_arg,
    log:
        "logs/audio/clap_train_{stage}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    shell:
        "python -m domains.audio.clap.train --stage {wildcards.stage:q} --meta {input.meta:q}"
        " --captions {input.captions:q} --out results/audio/clap/{wildcards.stage:q} {params.init}"
        " --hparams {params.hparams:q} --compute {params.compute:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule audio_clap_evaluate:
    input:
        unpack(audio_clap_source),
        captions="results/audio/clap/captions.pt",
        model="results/audio/clap/{stage}/model.pt",
    output:
        "results/audio/clap/{stage}/eval.json",
    wildcard_constraints:
        stage="plain|stageA|stageB",
    params:
        hparams=hparams("audio", "clap", parts=CLAP_PARTS["evaluate"]),
    log:
        "logs/audio/clap_evaluate_{stage}.log",
    conda:
        "../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    shell:
        "python -m domains.audio.clap.zeroshot --model {input.model:q} --meta {input.meta:q}"
        " --captions {input.captions:q} --out {output:q} --hparams {params.hparams:q} --threads {threads}"
        " > {log:q} 2>&1"


rule audio_clap_report:
    input:
        evals=expand("results/audio/clap/{stage}/eval.json", stage=AUDIO_CLAP_STAGES),
        runs=expand("results/audio/clap/{stage}/run.json", stage=AUDIO_CLAP_STAGES),
    output:
        metrics="results/audio/clap/metrics.json",
        confusion=report(
            AUDIO_CLAP_FIGURES[0],
            caption="../report/audio_clap_confusion.rst",
            category="Audio",
            subcategory="CLAP + TeminAL",
        ),
        temporal=report(
            AUDIO_CLAP_FIGURES[1],
            caption="../report/audio_clap_temporal.rst",
            category="Audio",
            subcategory="CLAP + TeminAL",
        ),
    params:
        dataset=config["audio"]["clap"]["dataset"],
    log:
        "logs/audio/clap_report.log",
    conda:
        "../envs/audio.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.audio.clap.report --evals {input.evals:q} --runs {input.runs:q} --dataset {params.dataset:q}"
        " --metrics {output.metrics:q} --confusion {output.confusion:q} --temporal {output.temporal:q}"
        " > {log:q} 2>&1"
