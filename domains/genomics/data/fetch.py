"""Fetch the 42 public bacterial genomes (mirror first, then their public source), checksum-checked, and write
the sample sheet (file, species, genome) that the preprocess stage reads.

    python -m domains.genomics.data.fetch --out resources/genomics/genomes \
        --status resources/genomics/genomes.fetch.json [--mirror ../shared/data]

``sources.tsv`` lists each file with its raw GitHub URL (repository, commit and path from the data manifest), the
sha256 of the gzipped file (mirror copies) and of the uncompressed sequence file. A mirror copy
(``<mirror>/genomics/genomes/<file>``) is checked against the gzipped sha256. Where the public source is an
uncompressed FASTA (CAMISIM, some pyani fixtures) the download is checked against the uncompressed sha256 and kept
uncompressed; gzipped sources are checked against the gzipped sha256. Every check goes through ssl_core.fetch.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ssl_core.atomic import atomic_path, write_json
from ssl_core.errors import report_input_errors
from ssl_core.fetch import Source, fetch_file, load_sources, mirror_from_env

SOURCES = Path(__file__).with_name("sources.tsv")
DATASET = "genomes"


def source_rows(table: Path = SOURCES) -> list[dict[str, str]]:
    with open(table, newline="") as fh:
        return [r for r in csv.DictReader(fh, delimiter="\t") if r["dataset"] == DATASET]


def fetch_genome(row: dict[str, str], out: Path, mirror: Path | None) -> tuple[str, str]:
    """(file name written, origin) for one manifest row."""
    gz = Source(DATASET, row["file"], row["url"], row["sha256"], None, int(row["bytes"]))
    in_mirror = mirror is not None and (mirror / "genomics" / DATASET / row["file"]).is_file()
    if in_mirror or row["url"].endswith(".gz") or (out / row["file"]).is_file():
        return row["file"], fetch_file(gz, out / row["file"], mirror=mirror, domain="genomics")
    plain_name = row["file"][:-3]
    plain = Source(DATASET, plain_name, row["url"], row["sha256_uncompressed"], None, None)
    return plain_name, fetch_file(plain, out / plain_name, mirror=None, domain="genomics")


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.genomics.data.fetch", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path, help="directory for the genomes and samples.tsv")
    p.add_argument("--status", required=True, type=Path, help="JSON status record to write")
    p.add_argument("--mirror", default=None, help="mirror directory (default: $SSL_DATA_MIRROR)")
    p.add_argument("--limit", type=int, default=None, help="only the first N genomes (tests)")
    args = p.parse_args(argv)
    load_sources(SOURCES)  # validates the table's required columns
    mirror = mirror_from_env(args.mirror)
    rows = source_rows()[: args.limit]
    status = {"dataset": DATASET, "complete": True, "files": {}, "missing": []}
    sheet = []
    for row in rows:
        name, origin = fetch_genome(row, args.out, mirror)
        status["files"][name] = origin
        sheet.append((name, row["species"], row["accession"]))
    with atomic_path(args.out / "samples.tsv") as tmp:
        tmp.write_text("file\tspecies\tgenome\n" + "".join(f"{f}\t{s}\t{g}\n" for f, s, g in sheet))
    write_json(args.status, status)
    print(f"{len(sheet)} genomes in {args.out}")


if __name__ == "__main__":
    main()
