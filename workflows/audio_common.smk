# Helpers of the audio data-layer rules (workflows/audio.smk), included at its top. No rules live here.
import functools
import re

from domains.audio.data.readers import read_user_meta
from domains.audio.settings import DATA_DATASETS, SEMISUP_SHIPPED, check_datasets

try:
    check_datasets(config["audio"])
except InputError as exc:
    raise WorkflowError(str(exc)) from None

AUDIO_USER = config["audio"]["user_datasets"]  # a user's data set name -> its clip table


def audio_names_regex(shipped):
    """A wildcard constraint matching the shipped names and every user data set's name."""
    return "|".join(re.escape(name) for name in (*shipped, *AUDIO_USER))


@functools.cache
def audio_user_table(dataset):
    """A user data set's clip table, read and checked once per parse (every job of the data set asks for it; a bad
    table stops the workflow with its one-line error). Callers only read it."""
    try:
        return read_user_meta(AUDIO_USER[dataset])
    except InputError as exc:
        raise WorkflowError(str(exc)) from None


def audio_source(dataset):
    """The metadata a stage reads for a data set, as named inputs: the fetch rule's meta.csv (and its status) for a
    shipped one; a user's clip table and every clip it names (an edit reruns what reads them) for yours."""
    if dataset not in AUDIO_USER:
        return {"meta": f"resources/audio/{dataset}/meta.csv", "status": f"resources/audio/{dataset}.fetch.json"}
    return {"meta": AUDIO_USER[dataset], "clips": list(audio_user_table(dataset)["path"])}


def audio_data_part(wildcards):
    """The part of audio.data a prepare job reads: the data set's own log-mel settings (``user`` for yours)."""
    return (wildcards.dataset if wildcards.dataset in DATA_DATASETS else "user",)

# The audio targets are declared here, from the config alone, so that they do not depend on which rule file is
# read first: each part's metric JSON (with its `table_rows`, joined by domains/audio/table.py) and figures.

AUDIO_CLAP_FIGURES = [
    "results/audio/clap/figures/zeroshot_confusion.png",
    "results/audio/clap/figures/temporal_per_stage.png",
]
AUDIO_CLAP_METRICS = ["results/audio/clap/metrics.json"] if config["audio"]["clap"]["enabled"] else []
AUDIO_SEMISUP_METRICS = [
    f"results/audio/semisup/{dataset}/metrics.json" for dataset in config["audio"]["semisup"]["datasets"]
]
AUDIO_SEMISUP_FIGURES = ["results/audio/figures/semisup_error_rates.png"] if AUDIO_SEMISUP_METRICS else []
AUDIO_TABLE_METRICS = AUDIO_CLAP_METRICS + AUDIO_SEMISUP_METRICS
AUDIO_FIGURES = (AUDIO_CLAP_FIGURES if AUDIO_CLAP_METRICS else []) + AUDIO_SEMISUP_FIGURES
