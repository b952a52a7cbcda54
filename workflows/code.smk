# CoCoSoDa code search on real Python code: corpus (stdlib + configured sources) -> BPE -> CoCoSoDa training and
# ablations -> MRR against BM25 on the held-out split and the external benchmarks -> table, figures.
# Every rule calls a stage's command line (python -m domains.code.<stage>); no logic lives here.


include: "code_common.smk"


CODE_BENCHMARKS = list(dict.fromkeys(config["code"]["benchmarks"] + list(config["code"]["user_benchmarks"])))
CODE_VARIANTS = config["code"]["variants"]
CODE_FIGURES = ["results/code/figures/mrr.png", "results/code/figures/training_curves.png"]
DOMAIN_RESULTS["code"] = expand("results/code/{benchmark}/metrics.json", benchmark=CODE_BENCHMARKS) + [
    "results/code/table.tsv"
]
DOMAIN_FIGURES["code"] = CODE_FIGURES


rule code_corpus:
    output:
        train="results/code/corpus/train.jsonl",
        valid="results/code/corpus/valid.jsonl",
        test_corpus="results/code/corpus/test/corpus.jsonl",
        test_queries="results/code/corpus/test/queries.jsonl",
        stats="results/code/corpus/stats.json",
        heldout=CODE_HELDOUT_FILES,
    params:
        hparams=hparams("code", parts=CODE_PARTS["corpus"]),
    log:
        "logs/code/corpus.log",
    conda:
        "../envs/code.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "python -m domains.code.data.corpus --out results/code/corpus --hparams {params.hparams:q} > {log:q} 2>&1"


rule code_fetch:
    output:
        corpus="resources/code/{benchmark}/corpus.jsonl",
        queries="resources/code/{benchmark}/queries_test.jsonl",
    wildcard_constraints:
        benchmark="cosqa_retrieval|csn_python_subset",
    params:
        mirror=data_mirror(),
    log:
        "logs/code/fetch_{benchmark}.log",
    conda:
        "../envs/code.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    shell:
        "python -m domains.code.data.fetch --benchmark {wildcards.benchmark:q} --out resources/code/{wildcards.benchmark:q}"
        " --mirror {params.mirror:q} > {log:q} 2>&1"


rule code_tokenizer:
    input:
        "results/code/corpus/train.jsonl",
    output:
        "results/code/tokenizer.json",
    params:
        hparams=hparams("code", parts=CODE_PARTS["tokenizer"]),
    log:
        "logs/code/tokenizer.log",
    conda:
        "../envs/code.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "python -m domains.code.cocosoda.tokenizer --corpus results/code/corpus --out {output:q} --hparams {params.hparams:q}"
        " > {log:q} 2>&1"


rule code_train:
    input:
        unpack(code_train_inputs),
        train="results/code/corpus/train.jsonl",
        valid="results/code/corpus/valid.jsonl",
    output:
        encoder="results/code/train/{variant}/encoder.pt",
        init="results/code/train/{variant}/encoder_init.pt",
        run="results/code/train/{variant}/run.json",
        history="results/code/train/{variant}/history.csv",
    wildcard_constraints:
        variant="cocosoda|pretrained_cocosoda|no_sda|no_queue|no_intra",
    params:
        compute=COMPUTE,
        hparams=hparams("code", parts=code_train_parts),
        tokenizer=code_tokenizer_arg,
    log:
        "logs/code/train_{variant}.log",
    conda:
        "../envs/code.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=6000,
        runtime=60,
    shell:
        "python -m domains.code.cocosoda.train --corpus results/code/corpus {params.tokenizer}"
        " --variant {wildcards.variant:q} --out results/code/train/{wildcards.variant:q} --hparams {params.hparams:q}"
        " --compute {params.compute:q} --threads {threads} --no-progress > {log:q} 2>&1"


rule code_dev:
    input:
        valid="results/code/corpus/valid.jsonl",
        encoders=[path for _, path in CODE_ENCODER_ROWS],
    output:
        "results/code/dev.json",
    params:
        hparams=hparams("code", parts=CODE_PARTS["dev"]),
        trained=code_trained_args,
    log:
        "logs/code/dev.log",
    conda:
        "../envs/code.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "python -m domains.code.cocosoda.dev --valid {input.valid:q} {params.trained} --out {output:q}"
        " --hparams {params.hparams:q} --threads {threads} > {log:q} 2>&1"


rule code_evaluate:
    input:
        unpack(code_benchmark_files),
        init=f"results/code/train/{CODE_SCRATCH[0]}/encoder_init.pt" if CODE_SCRATCH else [],
        encoders=[path for _, path in CODE_ENCODER_ROWS],
        dev="results/code/dev.json" if CODE_ENCODER_ROWS else [],
    output:
        "results/code/{benchmark}/metrics.json",
    wildcard_constraints:
        benchmark="[A-Za-z0-9][A-Za-z0-9_.-]*",
    params:
        hparams=hparams("code", parts=CODE_PARTS["evaluate"]),
        trained=code_trained_args,
        init=lambda wildcards, input: f"--init {shlex.quote(str(input.init))}" if CODE_SCRATCH else "",
        dev=lambda wildcards, input: f"--dev {shlex.quote(str(input.dev))}" if CODE_ENCODER_ROWS else "",
        directory=lambda wildcards, input: os.path.dirname(input.corpus),
    log:
        "logs/code/evaluate_{benchmark}.log",
    conda:
        "../envs/code.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
    shell:
        "python -m domains.code.cocosoda.evaluate --benchmark {params.directory:q} --name {wildcards.benchmark:q}"
        " {params.init} {params.trained} {params.dev} --metrics {output:q}"
        " --hparams {params.hparams:q} --threads {threads} > {log:q} 2>&1"


rule code_table:
    input:
        metrics=expand("results/code/{benchmark}/metrics.json", benchmark=CODE_BENCHMARKS),
        runs=expand("results/code/train/{variant}/run.json", variant=CODE_VARIANTS),
    output:
        report("results/code/table.tsv", caption="../report/code_table.rst", category="Code search (CoCoSoDa)"),
    log:
        "logs/code/table.log",
    conda:
        "../envs/code.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.code.cocosoda.table --metrics {input.metrics:q} --runs {input.runs:q} --out {output:q} > {log:q} 2>&1"


rule code_figures:
    input:
        metrics=expand("results/code/{benchmark}/metrics.json", benchmark=CODE_BENCHMARKS),
        histories=expand("results/code/train/{variant}/history.csv", variant=CODE_VARIANTS),
        runs=expand("results/code/train/{variant}/run.json", variant=CODE_VARIANTS),
    output:
        mrr=report(CODE_FIGURES[0], caption="../report/code_mrr.rst", category="Code search (CoCoSoDa)"),
        curves=report(CODE_FIGURES[1], caption="../report/code_curves.rst", category="Code search (CoCoSoDa)"),
    log:
        "logs/code/figures.log",
    conda:
        "../envs/code.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m domains.code.cocosoda.figures --metrics {input.metrics:q} --histories {input.histories:q}"
        " --runs {input.runs:q} --mrr {output.mrr:q} --curves {output.curves:q} > {log:q} 2>&1"
