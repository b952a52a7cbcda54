# Helpers shared by all rule files (config validation, the data mirror, each job's --hparams and --compute, the
# lists of final targets). Each domain's own helpers live beside its rules (workflows/<domain>_common.smk,
# included at the top of the domain's rule file). No rules live here.
import json
import os
import shlex

from ssl_core.config import DEFAULT_CONFIG, load_config, section_for
from ssl_core.errors import InputError

try:
    # As a module (`module ssl: ... config: config["ssl"]`) this workflow's own configfile statement is skipped:
    # the shipped defaults go under the config it was given, as the configfile statement puts them in a plain run.
    config.update(load_config([DEFAULT_CONFIG], overrides=config))  # and validated
except InputError as exc:
    raise WorkflowError(str(exc)) from None


# Jobs run their stage as `python -m domains.<domain>.<part>.<stage>`. This workflow's source tree goes first on
# the PYTHONPATH they inherit (also inside a SLURM job, which parses this file again), so they import this copy
# rather than one installed elsewhere (a working directory holding its own `domains/` would still come first, as
# for any `python -m`). SSL_LOG_SOURCE makes each stage write the file it ran to its log.
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(SSL_SOURCE)]
os.environ.update(PYTHONPATH=os.pathsep.join([str(SSL_SOURCE), *_paths]), SSL_LOG_SOURCE="1")


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


# Each domain's rule file registers its final results and figures here (DOMAIN_RESULTS["x"] = [...]);
# `rule all` and `rule figures` collect those of the domains named in config["domains"]. DOMAIN_EXTRA_TABLES["x"]
# lists (table, title) of results with their own target outside `rule all`; `snakemake docs` shows each one that
# exists (and brings it up to date first), never makes a missing one.
DOMAIN_RESULTS = {}
DOMAIN_FIGURES = {}
DOMAIN_EXTRA_TABLES = {}


def figure_targets(wildcards):
    return [f for domain in config["domains"] for f in DOMAIN_FIGURES.get(domain, [])]


def final_targets(wildcards):
    results = [f for domain in config["domains"] for f in DOMAIN_RESULTS.get(domain, [])]
    return results + figure_targets(wildcards)


def extra_tables():
    """domain -> [table, title] of each extra table of config["domains"] already made (DOMAIN_EXTRA_TABLES)."""
    return {
        domain: [[path, title] for path, title in DOMAIN_EXTRA_TABLES.get(domain, []) if os.path.isfile(path)]
        for domain in config["domains"]
    }
