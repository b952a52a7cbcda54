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


def code_trained_args(wildcards, input):
    """--trained VARIANT=encoder.pt for every configured training variant (the evaluate stage's arguments)."""
    return " ".join(f"--trained {shlex.quote(f'{v}={p}')}" for v, p in zip(config["code"]["variants"], input.encoders))
