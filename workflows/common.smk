# Helpers shared by all rule files (config validation, the data mirror, per-data-set hyperparameters, the
# lists of final targets). No rules live here.
import json
import os
import shlex

from domains.audio.ssl_methods import PRETRAINED_METHODS, SSL_DATASETS
from domains.audio.settings import CLAP_PARTS, semisup_parts
from domains.code.settings import STAGE_PARTS as CODE_PARTS
from domains.genomics.settings import STAGE_PARTS as GENOMICS_PARTS
from domains.medical.settings import STAGE_PARTS as MEDICAL_PARTS
from ssl_core.config import section_for, validate_config
from ssl_core.errors import InputError

try:
    validate_config(config)
except InputError as exc:
    raise WorkflowError(str(exc)) from None


def data_mirror():
    """The mirror directory from the config or $SSL_DATA_MIRROR, or '' (download from the public sources)."""
    return config["data_mirror"] or os.environ.get("SSL_DATA_MIRROR", "")


def hparams(*keys, dataset=None, parts=None):
    """The config section at ``keys`` as a job's ``--hparams`` JSON (quoted with :q), built by the same
    ``ssl_core.config.section_for`` the stage resolves its section with. ``dataset``: the name of the wildcard
    holding the data set whose ``dataset_overrides`` apply. ``parts``: only the parts the stage reads (its
    domain's ``settings.STAGE_PARTS``), or a function of the wildcards giving them. With either, the value is a
    function of the wildcards."""
    if dataset is None and parts is None:
        return json.dumps(section_for(config, keys), sort_keys=True)

    def value(wildcards):
        chosen = parts(wildcards) if callable(parts) else parts
        return json.dumps(section_for(config, keys, wildcards[dataset] if dataset else None, chosen), sort_keys=True)

    return value


# The compute section (accelerator, devices, precision) as every training job's --compute JSON.
COMPUTE = json.dumps(config["compute"], sort_keys=True)


def medical_compute(wildcards):
    """--compute of a medical train job: the MOGONET baseline trains its whole patient graph as one batch, so it
    runs on one device whatever compute.devices says (M3CoL uses them all with DDP)."""
    if wildcards.method == "mogonet":
        return json.dumps({**config["compute"], "devices": 1}, sort_keys=True)
    return COMPUTE


def medical_available():
    """Data sets whose fetch checkpoint reported every file present (evaluated after the checkpoints ran)."""
    ready = []
    for ds in config["medical"]["datasets"]:
        status = checkpoints.medical_fetch.get(dataset=ds).output.status
        with open(status) as fh:
            if json.load(fh)["complete"]:
                ready.append(ds)
    return ready


def medical_fetch_statuses(wildcards):
    return expand("resources/medical/{dataset}.fetch.json", dataset=config["medical"]["datasets"])


def medical_metrics(wildcards):
    return expand(
        "results/medical/{dataset}/{method}/metrics.json",
        dataset=medical_available(),
        method=config["medical"]["methods"],
    )


def medical_seed_outputs(name):
    """Per-seed output ``name`` of every seed of one data set and method (input function for rules with both)."""

    def inputs(wildcards):
        return expand(
            "results/medical/{dataset}/{method}/seed{seed}/{name}",
            dataset=wildcards.dataset,
            method=wildcards.method,
            seed=config["medical"]["seeds"],
            name=name,
        )

    return inputs


def medical_histories(wildcards):
    return expand(
        "results/medical/{dataset}/{method}/seed{seed}/history.csv",
        dataset=medical_available(),
        method=config["medical"]["methods"],
        seed=config["medical"]["seeds"],
    )


# Each domain's rule file registers its final results and figures here (DOMAIN_RESULTS["x"] = [...]);
# `rule all` and `rule figures` collect those of the domains named in config["domains"].
DOMAIN_RESULTS = {}
DOMAIN_FIGURES = {}


def figure_targets(wildcards):
    return [f for domain in config["domains"] for f in DOMAIN_FIGURES.get(domain, [])]


def final_targets(wildcards):
    results = [f for domain in config["domains"] for f in DOMAIN_RESULTS.get(domain, [])]
    return results + figure_targets(wildcards)


# --- genomics (DNABERT-S) helpers ---


def genomics_sample_sheet():
    """The user's sample sheet (config genomics.sample_sheet), else the one the fetch rule writes."""
    return config["genomics"]["sample_sheet"] or "resources/genomics/genomes/samples.tsv"



# --- code (CoCoSoDa) helpers ---

CODE_FETCHED = ["cosqa_retrieval", "csn_python_subset"]



def code_benchmark_files(wildcards):
    """corpus.jsonl and the queries file of one benchmark: the corpus test split, a fetched one or the user's."""
    b = wildcards.benchmark
    if b == "corpus_test":
        d, q = "results/code/corpus/test", "queries.jsonl"
    elif b in config["code"]["user_benchmarks"]:
        d, q = config["code"]["user_benchmarks"][b], "queries.jsonl"
    elif b in CODE_FETCHED:
        d, q = f"resources/code/{b}", "queries_test.jsonl"
    else:
        raise WorkflowError(f"code: unknown benchmark {b!r}: not built in ({', '.join(['corpus_test'] + CODE_FETCHED)}) "
                            "and not in code.user_benchmarks")
    return {"corpus": f"{d}/corpus.jsonl", "queries": f"{d}/{q}"}


def code_trained_args(wildcards, input):
    """--trained VARIANT=encoder.pt for every configured training variant (the evaluate stage's arguments)."""
    return " ".join(f"--trained {shlex.quote(f'{v}={p}')}" for v, p in zip(config["code"]["variants"], input.encoders))


# --- audio helpers ---
# Metric JSONs with a `table_rows` list (domains/audio/table.py) and figures, appended by each audio part's rules.
AUDIO_TABLE_METRICS = []
AUDIO_FIGURES = []



def audio_table_metrics(wildcards):
    """Every audio part's metric JSONs (evaluated after all rule files are read)."""
    return AUDIO_TABLE_METRICS



def audio_ssl_features(wildcards):
    """The features file an SSL data set is cut from (ESC-10 from the ESC-50 features)."""
    return f"results/audio/features/{SSL_DATASETS[wildcards.ssl_dataset]}.npz"


def audio_ssl_pretrains(dataset):
    """Whether the SSL data set's methods that use unlabelled clips start from an i-Mix pretrained trunk (its
    merged pretrain.steps > 0)."""
    return section_for(config, ("audio", "ssl"), dataset)["pretrain"]["steps"] > 0


def audio_ssl_trunk(wildcards):
    """The pretrained trunk an audio_ssl_train job starts from ({} when the method trains from scratch)."""
    if wildcards.ssl_method not in PRETRAINED_METHODS or not audio_ssl_pretrains(wildcards.ssl_dataset):
        return {}
    return {"trunk": f"results/audio/ssl/{wildcards.ssl_dataset}/pretrain/fold{wildcards.fold}_seed{wildcards.seed}/trunk.pt"}


def audio_ssl_trunk_arg(wildcards, input):
    """--trunk for audio_ssl_train when its input has a trunk (quoted for the shell)."""
    return f"--trunk {shlex.quote(input.trunk)}" if "trunk" in input.keys() else ""


def audio_ssl_runs(wildcards):
    """result.json of every configured method, test fold and seed of one SSL data set (imix_finetune only where the
    data set's pretrain.steps > 0)."""
    ssl = config["audio"]["ssl"]
    runs = ssl[wildcards.ssl_dataset]
    # imix_finetune is pretraining + supervised_10: without pretraining steps it would repeat supervised_10
    methods = [m for m in ssl["methods"] if m != "imix_finetune" or audio_ssl_pretrains(wildcards.ssl_dataset)]
    return expand(
        "results/audio/ssl/{ssl_dataset}/{ssl_method}/fold{fold}_seed{seed}/result.json",
        ssl_dataset=wildcards.ssl_dataset,
        ssl_method=methods,
        fold=runs["folds"],
        seed=runs["seeds"],
    )


# --- audio part A (CLAP + TeminAL) helpers ---
AUDIO_CLAP_STAGES = ["plain", "stageA", "stageB"]  # curriculum order: each stage starts from the previous one



def audio_clap_previous(wildcards):
    """The previous stage's model (stage A starts from plain, stage B from stage A); none for plain."""
    i = AUDIO_CLAP_STAGES.index(wildcards.stage)
    return [f"results/audio/clap/{AUDIO_CLAP_STAGES[i - 1]}/model.pt"] if i > 0 else []


def audio_clap_init_arg(wildcards, input):
    """``--init <previous model.pt>`` for stages A and B, nothing for the plain stage."""
    return f"--init {shlex.quote(input.init[0])}" if input.init else ""
