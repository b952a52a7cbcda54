# Helpers of the genomics rules (workflows/genomics.smk), included at its top. No rules live here.
from domains.genomics.settings import STAGE_PARTS as GENOMICS_PARTS


def genomics_sample_sheet():
    """The user's sample sheet (config genomics.sample_sheet), else the one the fetch rule writes."""
    return config["genomics"]["sample_sheet"] or "resources/genomics/genomes/samples.tsv"
