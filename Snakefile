# ssl-workflows: domain-specific self-supervised pipelines on one shared contrastive/mixup core.
# This file only loads and validates the config, includes the rule files and names the final targets.
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# This workflow's own source tree (this file's directory). The helpers below and every stage (through the jobs'
# PYTHONPATH, set in workflows/common.smk) import from it: also when it is used as a module from another
# directory, and in a job environment where the project is not pip-installed (a per-rule conda env).
SSL_SOURCE = Path(workflow.current_basedir).resolve()
sys.path.insert(0, str(SSL_SOURCE))


configfile: "config/config.yaml"


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_.-]*",
    seed="[0-9]+",
    method="m3col|mogonet|logreg",


include: "workflows/common.smk"
include: "workflows/medical.smk"
include: "workflows/genomics.smk"
include: "workflows/code.smk"
include: "workflows/audio.smk"
include: "workflows/metric.smk"
include: "workflows/docs.smk"


report: "report/workflow.rst"


rule all:
    input:
        final_targets,
    default_target: True


rule figures:
    input:
        figure_targets,
