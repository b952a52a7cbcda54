# Helpers of the code search rules (workflows/code.smk), included at its top. No rules live here.
import shlex

from domains.code.settings import STAGE_PARTS as CODE_PARTS


CODE_FETCHED = ["cosqa_retrieval", "csn_python_subset"]
# The package-disjoint benchmark the corpus stage writes when code.corpus.heldout_packages > 0.
CODE_HELDOUT = "results/code/corpus/heldout_packages"
CODE_HELDOUT_FILES = ([f"{CODE_HELDOUT}/corpus.jsonl", f"{CODE_HELDOUT}/queries.jsonl"]
                      if config["code"]["corpus"]["heldout_packages"] else [])


def code_benchmark_files(wildcards):
    """corpus.jsonl and the queries file of one benchmark: the corpus test split, a fetched one or the user's."""
    b = wildcards.benchmark
    if b == "corpus_test":
        d, q = "results/code/corpus/test", "queries.jsonl"
    elif b == "heldout_packages":
        if not CODE_HELDOUT_FILES:
            raise WorkflowError("code: benchmark heldout_packages needs code.corpus.heldout_packages > 0")
        d, q = CODE_HELDOUT, "queries.jsonl"
    elif b in config["code"]["user_benchmarks"]:
        d, q = config["code"]["user_benchmarks"][b], "queries.jsonl"
    elif b in CODE_FETCHED:
        d, q = f"resources/code/{b}", "queries_test.jsonl"
    else:
        built_in = ", ".join(["corpus_test", "heldout_packages"] + CODE_FETCHED)
        raise WorkflowError(f"code: unknown benchmark {b!r}: not built in ({built_in}) and not in code.user_benchmarks")
    return {"corpus": f"{d}/corpus.jsonl", "queries": f"{d}/{q}"}


# Variants trained from scratch on the BPE vocabulary (the first one's encoder_init.pt is the row 'untrained'),
# and (row, encoder file) of every other neural row: each variant, and the pretrained checkpoint zero-shot.
CODE_PRETRAINED = "pretrained_cocosoda"
CODE_SCRATCH = [v for v in config["code"]["variants"] if v != CODE_PRETRAINED]
CODE_ENCODER_ROWS = [(v, f"results/code/train/{v}/encoder.pt") for v in config["code"]["variants"]] + (
    [("pretrained", f"results/code/train/{CODE_PRETRAINED}/encoder_init.pt")]
    if CODE_PRETRAINED in config["code"]["variants"] else [])


def code_train_parts(wildcards):
    """The config parts a training job reads: the fine-tune's for pretrained_cocosoda."""
    return CODE_PARTS["finetune" if wildcards.variant == CODE_PRETRAINED else "train"]


def code_train_inputs(wildcards):
    """The BPE vocabulary, for the variants trained from scratch (the pretrained one keeps its checkpoint's)."""
    return {} if wildcards.variant == CODE_PRETRAINED else {"tokenizer": "results/code/tokenizer.json"}


def code_tokenizer_arg(wildcards, input):
    """--tokenizer PATH where the training job has one."""
    return f"--tokenizer {shlex.quote(str(input.tokenizer))}" if "tokenizer" in input.keys() else ""


def code_trained_args(wildcards, input):
    """--trained ROW=encoder file for every row of CODE_ENCODER_ROWS (the evaluate stage's arguments)."""
    return " ".join(f"--trained {shlex.quote(f'{row}={path}')}" for row, path in CODE_ENCODER_ROWS)
