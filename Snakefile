# ssl-workflows: domain-specific self-supervised pipelines on one shared contrastive/mixup core.
# This file only loads and validates the config, includes the rule files and names the final targets.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_.-]*",
    seed="[0-9]+",
    method="m3col|mogonet",


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
