"""Fetch one medical data set (mirror first, then its public source), checksum-checked; or check a user's.

    python -m domains.medical.data.fetch --dataset ROSMAP --out resources/medical/ROSMAP \
        --status resources/medical/ROSMAP.fetch.json [--mirror ../shared/data] [--allow-missing]
    python -m domains.medical.data.fetch --dataset mycohort --sheet path/to/sheet.tsv \
        --status resources/medical/mycohort.fetch.json

With ``--sheet`` (a user's data set, ``medical.user_datasets``) nothing is downloaded: the sheet and the files it
names are checked (:func:`domains.medical.data.sheet.read_sheet`) and the status lists them.

``--status`` gets a JSON record: whether the data set is complete and, for each missing file, its URL and why it
could not be had. Without ``--allow-missing`` a missing file is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssl_core.atomic import write_json
from domains.medical.data.sheet import read_sheet
from ssl_core.errors import InputError, report_input_errors
from ssl_core.fetch import fetch_dataset, load_sources, mirror_from_env

SOURCES = Path(__file__).with_name("sources.tsv")


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.medical.data.fetch", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", type=Path, help="directory for the data set's files (a shipped data set)")
    p.add_argument("--sheet", type=Path, help="sample sheet of a user's data set (instead of --out)")
    p.add_argument("--status", required=True, type=Path, help="JSON status record to write")
    p.add_argument("--mirror", default=None, help="mirror directory (default: $SSL_DATA_MIRROR)")
    p.add_argument("--allow-missing", action="store_true", help="record files that cannot be had instead of failing")
    args = p.parse_args(argv)
    if (args.out is None) == (args.sheet is None):
        raise InputError("give one of --out (a shipped data set) and --sheet (yours)")
    if args.sheet is not None:
        sheet = read_sheet(args.sheet)
        files = {name: str(f) for name, f in sheet.views} | {"labels": str(sheet.labels)}
        write_json(args.status, {"dataset": args.dataset, "complete": True, "sheet": str(args.sheet), "files": files,
                                 "missing": []})
        return
    status = fetch_dataset(load_sources(SOURCES), args.dataset, args.out, mirror=mirror_from_env(args.mirror),
                           domain="medical", allow_missing=args.allow_missing)
    for item in status["missing"]:
        print(f"warning: {args.dataset}/{item['file']} is missing; it comes from {item['url']}", file=sys.stderr)
    if status["missing"]:
        print(f"warning: {args.dataset} is skipped: {len(status['missing'])} of its files could not be had", file=sys.stderr)
    write_json(args.status, status)


if __name__ == "__main__":
    main()
