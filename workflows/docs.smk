# `snakemake docs` (or `make docs`): run the workflow, then write the result pages of the docs (docs/results/) from
# its results and fill the results blocks of the READMEs (domains/docs.py). Not part of `rule all`: it rewrites
# tracked files, so it runs only when asked for. Docs for some domains (--config 'domains=[code]') rewrite those
# pages only: the other domains keep their pages and records (docs/results/<domain>/provenance.json).
import json


rule docs:
    input:
        final_targets,
        extra=lambda wildcards: [p for tables in extra_tables().values() for p, _ in tables],
    output:
        "docs/results/provenance.json",
    params:
        domains=config["domains"],
        figures=lambda wildcards: json.dumps({d: DOMAIN_FIGURES.get(d, []) for d in config["domains"]}),
        extra=lambda wildcards: json.dumps(extra_tables()),
        config=json.dumps(config, sort_keys=True),
        readmes=["README.md", *(f"domains/{d}/README.md" for d in config["domains"])],
    log:
        "logs/docs.log",
    conda:
        "../envs/report.yaml"
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m domains.docs --results results --domains {params.domains:q} --figures {params.figures:q} --extra {params.extra:q}"
        " --config {params.config:q} --out docs/results"
        " --readmes {params.readmes:q} > {log:q} 2>&1"
