"""Validate one data set's files and write them as one AnnData (``.h5ad``), with optional scanpy preprocessing.

    python -m domains.medical.data.prepare --dataset ROSMAP --raw resources/medical/ROSMAP \
        --out results/medical/ROSMAP/data.h5ad [--config config/config.yaml]
    python -m domains.medical.data.prepare --dataset mycohort --sheet path/to/sheet.tsv --out ...

``--sheet``: a user's data set (``medical.user_datasets``) read from its sample sheet, through the same
preprocessing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from domains.medical.data.readers import load_dataset, load_sheet_dataset, preprocess
from domains.medical.data.datasets import get_spec
from domains.medical.settings import STAGE_PARTS
from ssl_core.atomic import atomic_path
from ssl_core.config import resolve_section
from ssl_core.errors import InputError, report_input_errors


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.medical.data.prepare", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--raw", type=Path, help="directory with the fetched files (a shipped data set)")
    p.add_argument("--sheet", type=Path, help="sample sheet of a user's data set (instead of --raw)")
    p.add_argument("--out", required=True, type=Path, help="AnnData file to write")
    p.add_argument("--config", action="append", type=Path, help="config YAML (repeatable; default config/config.yaml)")
    p.add_argument("--hparams", default=None, help="JSON object merged over the medical config section")
    args = p.parse_args(argv)
    if (args.raw is None) == (args.sheet is None):
        raise InputError("give one of --raw (a shipped data set) and --sheet (yours)")
    hp = resolve_section(("medical",), args.config, args.hparams, args.dataset, parts=STAGE_PARTS["prepare"])
    if args.sheet is not None:
        adata = load_sheet_dataset(args.sheet, args.dataset)
    else:
        try:
            spec = get_spec(args.dataset)
        except KeyError as exc:
            raise InputError(str(exc.args[0])) from None
        adata = load_dataset(args.raw, spec)
    adata = preprocess(adata, **hp["preprocess"])
    with atomic_path(args.out) as tmp:
        adata.write_h5ad(tmp)
    counts = adata.obs.groupby("split", observed=True).size().to_dict()
    print(f"{args.dataset}: {adata.n_obs} samples {counts}, {adata.n_vars} features in {len(adata.uns['views'])} views,"
          f" classes {list(adata.uns['classes'])}")


if __name__ == "__main__":
    main()
