"""Validate one data set's files and write them as one AnnData (``.h5ad``), with optional scanpy preprocessing.

    python -m domains.medical.data.prepare --dataset ROSMAP --raw resources/medical/ROSMAP \
        --out results/medical/ROSMAP/data.h5ad [--config config/config.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from domains.medical.data.readers import load_dataset, preprocess
from domains.medical.data.datasets import get_spec
from domains.medical.settings import STAGE_PARTS
from ssl_core.atomic import atomic_path
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.medical.data.prepare", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--raw", required=True, type=Path, help="directory with the fetched files")
    p.add_argument("--out", required=True, type=Path, help="AnnData file to write")
    p.add_argument("--config", action="append", type=Path, help="config YAML (repeatable; default config/config.yaml)")
    p.add_argument("--hparams", default=None, help="JSON object merged over the medical config section")
    args = p.parse_args(argv)
    try:
        spec = get_spec(args.dataset)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    hp = resolve_section(("medical",), args.config, args.hparams, spec.name, parts=STAGE_PARTS["prepare"])
    adata = preprocess(load_dataset(args.raw, spec), **hp["preprocess"])
    with atomic_path(args.out) as tmp:
        adata.write_h5ad(tmp)
    counts = adata.obs.groupby("split", observed=True).size().to_dict()
    print(f"{spec.name}: {adata.n_obs} samples {counts}, {adata.n_vars} features")


if __name__ == "__main__":
    main()
