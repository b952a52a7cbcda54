# Helpers of the medical rules (workflows/medical.smk), included at its top. No rules live here.
import json
import shlex

from domains.medical.data.sheet import read_sheet
from domains.medical.settings import STAGE_PARTS as MEDICAL_PARTS, check_datasets

try:
    check_datasets(config["medical"])
except InputError as exc:
    raise WorkflowError(str(exc)) from None


def medical_sheet(dataset):
    """The sample sheet of a user's data set (medical.user_datasets), or None for a shipped one."""
    return config["medical"]["user_datasets"].get(dataset)


def medical_fetch_inputs(wildcards):
    """A user's data set: its sheet and every file it names (an edit reruns the check and all that follows)."""
    sheet = medical_sheet(wildcards.dataset)
    if sheet is None:
        return []
    try:
        return [sheet, *(str(f) for f in read_sheet(sheet).files)]
    except InputError as exc:
        raise WorkflowError(str(exc)) from None


def medical_source(stage):
    """The options naming a data set's files for the fetch or prepare stage: its sheet (yours), or its directory
    under resources/ (shipped; fetch also gets the mirror and allow_missing)."""

    def options(wildcards):
        sheet = medical_sheet(wildcards.dataset)
        if sheet is not None:
            return f"--sheet {shlex.quote(sheet)}"
        folder = shlex.quote(f"resources/medical/{wildcards.dataset}")
        if stage == "prepare":
            return f"--raw {folder}"
        allow = " --allow-missing" if config["medical"]["allow_missing"] else ""
        return f"--out {folder} --mirror {shlex.quote(data_mirror())}{allow}"

    return options


def medical_compute(wildcards):
    """--compute of a medical train job: the MOGONET baseline trains its whole patient graph as one batch, so it
    runs on one device whatever compute.devices says (M3CoL uses them all with DDP; logistic regression none)."""
    if wildcards.method in ("mogonet", "logreg"):
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


def medical_fetch_statuses(wildcards, datasets=None):
    """Fetch status files of ``datasets`` (default: every configured data set)."""
    names = config["medical"]["datasets"] if datasets is None else datasets
    return expand("resources/medical/{dataset}.fetch.json", dataset=names)


def medical_metrics(wildcards):
    return expand(
        "results/medical/{dataset}/{method}/metrics.json",
        dataset=medical_available(),
        method=config["medical"]["methods"],
    )


def medical_seeds(method):
    """The seeds ``method`` trains: ``medical.seeds``, only the first ``medical.seed_limit[method]`` when set."""
    seeds = config["medical"]["seeds"]
    return seeds[: config["medical"]["seed_limit"].get(method, len(seeds))]


def medical_seed_outputs(name):
    """Per-seed output ``name`` of every seed of one data set and method (input function for rules with both)."""

    def inputs(wildcards):
        return expand(
            "results/medical/{dataset}/{method}/seed{seed}/{name}",
            dataset=wildcards.dataset,
            method=wildcards.method,
            seed=medical_seeds(wildcards.method),
            name=name,
        )

    return inputs


def medical_histories(wildcards):
    """Per-epoch histories for the training-curve figure (logistic regression has no epochs)."""
    return [
        path
        for method in config["medical"]["methods"]
        if method != "logreg"
        for path in expand(
            "results/medical/{dataset}/{method}/seed{seed}/history.csv",
            dataset=medical_available(),
            method=method,
            seed=medical_seeds(method),
        )
    ]


def medical_resplit_chosen(wildcards):
    """M3CoL's settings chosen inside the re-split's training rows (medical.resplit.select), else nothing."""
    if wildcards.method != "m3col" or not config["medical"]["resplit"]["select"]:
        return []
    return [f"results/medical/resplit/{wildcards.dataset}/select/split{wildcards.seed}.json"]


def medical_chosen_option(wildcards, input):
    """--chosen of a re-split training job that has a selection record, else nothing."""
    return f"--chosen {shlex.quote(input.chosen[0])}" if input.chosen else ""


def medical_resplit_outputs(name):
    """Per-re-split output ``name`` of one data set and method: re-splits 0 .. medical.resplit.n - 1, one seed each
    (the seed is the re-split's index)."""

    def inputs(wildcards):
        return expand(
            "results/medical/resplit/{dataset}/{method}/split{seed}/{name}",
            dataset=wildcards.dataset,
            method=wildcards.method,
            seed=range(config["medical"]["resplit"]["n"]),
            name=name,
        )

    return inputs


def medical_resplit_named():
    """Data sets of medical.datasets that the re-split protocol names (medical.resplit.datasets; null: all)."""
    chosen = config["medical"]["resplit"]["datasets"]
    return [ds for ds in config["medical"]["datasets"] if chosen is None or ds in chosen]


def medical_resplit_metrics(wildcards):
    return expand(
        "results/medical/resplit/{dataset}/{method}/metrics.json",
        dataset=[ds for ds in medical_available() if ds in medical_resplit_named()],
        method=config["medical"]["resplit"]["methods"],
    )


def medical_resplit_statuses(wildcards):
    """Fetch status of each data set the re-split protocol names (its table says which could not be had)."""
    return medical_fetch_statuses(wildcards, medical_resplit_named())
