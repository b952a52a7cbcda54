# Helpers of the medical rules (workflows/medical.smk), included at its top. No rules live here.
import json

from domains.medical.settings import STAGE_PARTS as MEDICAL_PARTS


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
