"""Fetch ESC-50 or FSDD into ``resources/audio/<dataset>``: from the data mirror, checksum by checksum, or from the
upstream GitHub repository when there is no mirror.

    python -m domains.audio.data.fetch --dataset esc50 --out resources/audio/esc50 \
        --status resources/audio/esc50.fetch.json [--mirror ../shared/data] [--copy] [--limit N]

Layout written (what ``domains.audio.data.readers`` reads)::

    <out>/meta.csv  +  <out>/audio/<clip>        (esc50)
    <out>/meta.csv  +  <out>/recordings/<clip>   (fsdd)

**Mirror** (``<mirror>/audio/<dataset>/meta.csv`` and its clips): ``meta.csv`` is checked against the sha256 in
``domains/audio/data/sources.tsv`` (through ``ssl_core.fetch``), then every clip against the sha256 column of
``meta.csv``; clips are symlinked into ``<out>`` (``--copy`` copies them). A mismatch is an error naming the file;
a clip listed in ``meta.csv`` but absent from the mirror is a counted skip (``missing`` in the status JSON), unless
all are absent.

**Upstream** (no mirror given and ``$SSL_DATA_MIRROR`` unset): the repository and ref from ``sources.tsv``
(karolpiczak/ESC-50: ``meta/esc50.csv`` and the original 44.1 kHz ``audio/*.wav``; Jakobovski/free-spoken-digit-
dataset: ``recordings/*.wav``). Neither project publishes per-file checksums, so the fetch first resolves the ref
to a commit with the GitHub API, reads that commit's git tree (the blob id of every file), downloads each file from
``raw.githubusercontent.com/<repo>/<commit>/...`` and checks it against its git blob id (``ssl_core.fetch``,
``git_blob_sha1``): every byte is what the repository holds at that commit, which the status JSON records. FSDD
has no metadata file upstream: ``meta.csv`` is written from the file names (digit_speaker_index; index 0-4 test).
The 44.1 kHz ESC-50 WAVs are resampled to the configured rate by ``prepare``.

Outputs are written atomically; the status JSON (counts of clips listed, present, missing, and where they came
from) is written last, so it exists only when the fetch finished.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import urllib.request
from pathlib import Path

from ssl_core.atomic import atomic_path, write_json, write_text
from ssl_core.errors import InputError, report_input_errors
from ssl_core.fetch import FetchError, Source, fetch_file, load_sources, mirror_from_env, verify

from domains.audio.data.readers import AUDIO_DIRS, fsdd_fields

SOURCES = Path(__file__).with_name("sources.tsv")
DOMAIN = "audio"
DATASETS = tuple(AUDIO_DIRS)
API = "https://api.github.com/repos"
RAW = "https://raw.githubusercontent.com"


def source_row(dataset: str, table: Path = SOURCES) -> dict[str, str]:
    """The sources.tsv row of one data set (repository, ref, checksum of the mirror's meta.csv)."""
    load_sources(table)  # validates the required columns (sha256 or git blob id per row)
    with open(table, newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["dataset"] == dataset]
    if len(rows) != 1:
        raise InputError(f"{table}: expected one row for data set {dataset!r}, found {len(rows)}")
    return rows[0]


def _place(src: Path, dest: Path, copy: bool) -> None:
    """Symlink (or copy) ``src`` to ``dest``, atomically replacing whatever is there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        tmp.unlink()
        if copy:
            shutil.copyfile(src, tmp)
        else:
            os.symlink(src.resolve(), tmp)


def fetch_from_mirror(dataset: str, row: dict[str, str], mirror: Path, out: Path, *, copy: bool,
                      limit: int | None = None) -> dict:
    """Check and place meta.csv and every clip it lists; return the status record."""
    base = mirror / DOMAIN / dataset
    if not (base / "meta.csv").is_file():
        raise FetchError(f"{base / 'meta.csv'}: not in the mirror (expected <mirror>/{DOMAIN}/{dataset}/meta.csv "
                         f"and its clips under {AUDIO_DIRS[dataset]}/)")
    meta_src = Source(dataset, "meta.csv", row["url"], row["sha256"] or None, None, None)
    fetch_file(meta_src, out / "meta.csv.mirror", mirror=mirror, domain=DOMAIN)
    with open(out / "meta.csv.mirror", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "sha256" not in rows[0] or "filename" not in rows[0]:
        raise InputError(f"{base / 'meta.csv'}: needs filename and sha256 columns")
    rows = rows[:limit] if limit else rows
    audio_dir = AUDIO_DIRS[dataset]
    present, missing = [], []
    for r in rows:
        src = base / audio_dir / r["filename"]
        if not src.is_file():
            missing.append(r["filename"])
            continue
        bad = verify(src, Source(dataset, r["filename"], str(src), r["sha256"], None, None))
        if bad is not None:
            raise FetchError(f"{src}: {bad}; the mirror copy is not the published file")
        _place(src, out / audio_dir / r["filename"], copy)
        present.append(r)
    if not present:
        raise FetchError(f"{base / 'meta.csv'}: none of its {len(rows)} clips are in {base / audio_dir}")
    if missing:
        print(f"warning: {len(missing)} of {len(rows)} clips listed in {base / 'meta.csv'} are not in the mirror "
              f"(skipped; first: {missing[0]})")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(present)
    write_text(out / "meta.csv", buf.getvalue())
    (out / "meta.csv.mirror").unlink()
    return {"origin": "mirror", "source": str(base), "listed": len(rows), "clips": len(present),
            "missing": missing, "checked": "sha256 of every clip (meta.csv), meta.csv sha256 from sources.tsv"}


def _get_json(url: str, timeout: float = 60.0) -> dict:
    req = urllib.request.Request(url, headers={"Accept": "application/vnd.github+json", "User-Agent": "ssl-workflows"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def upstream_tree(repo: str, ref: str) -> tuple[str, dict[str, str]]:
    """(commit sha, {path: git blob id}) of ``repo`` at ``ref``, from the GitHub API."""
    try:
        commit = _get_json(f"{API}/{repo}/commits/{ref}")
        sha, tree_sha = commit["sha"], commit["commit"]["tree"]["sha"]
        tree = _get_json(f"{API}/{repo}/git/trees/{tree_sha}?recursive=1")
    except (OSError, KeyError, ValueError) as exc:
        raise FetchError(f"{repo}@{ref}: cannot read the repository's file list from the GitHub API ({exc}); "
                         f"offline, set data_mirror or $SSL_DATA_MIRROR to a directory holding "
                         f"<mirror>/{DOMAIN}/<dataset>/meta.csv") from None
    if tree.get("truncated"):
        raise FetchError(f"{repo}@{ref}: the GitHub API truncated the file list")
    return sha, {e["path"]: e["sha"] for e in tree["tree"] if e.get("type") == "blob"}


def fetch_upstream(dataset: str, row: dict[str, str], out: Path, *, limit: int | None = None) -> dict:
    """Download meta and clips from the pinned commit of the upstream repository, each checked by git blob id."""
    repo, audio_dir = row["repo"], AUDIO_DIRS[dataset]
    commit, blobs = upstream_tree(repo, row["ref"])
    upstream_dir = row["audio_dir"]

    def get(path: str, dest: Path) -> None:
        if path not in blobs:
            raise FetchError(f"{repo}@{commit}: no file {path}")
        src = Source(dataset, path, f"{RAW}/{repo}/{commit}/{path}", None, blobs[path], None)
        fetch_file(src, dest, mirror=None, domain=DOMAIN)

    if dataset == "esc50":
        get(row["upstream_meta"], out / "meta.csv.upstream")
        with open(out / "meta.csv.upstream", newline="") as fh:
            rows = list(csv.DictReader(fh))
        names = [r["filename"] for r in rows]
    else:
        names = sorted(p.rsplit("/", 1)[1] for p in blobs if p.startswith(upstream_dir + "/") and p.endswith(".wav"))
        rows = []
        for name in names:
            digit, speaker, index = fsdd_fields(name)
            rows.append({"filename": name, "digit": digit, "speaker": speaker, "index": index,
                         "split": "test" if index < 5 else "train"})
    rows, names = (rows[:limit], names[:limit]) if limit else (rows, names)
    if not rows:
        raise FetchError(f"{repo}@{commit}: no clips found")
    for name in names:
        get(f"{upstream_dir}/{name}", out / audio_dir / name)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "meta.csv", buf.getvalue())
    (out / "meta.csv.upstream").unlink(missing_ok=True)
    return {"origin": "upstream", "source": f"https://github.com/{repo}/tree/{commit}", "commit": commit,
            "listed": len(rows), "clips": len(rows), "missing": [], "checked": "git blob id of every file at the commit"}


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.audio.data.fetch", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--out", required=True, type=Path, help="directory for meta.csv and the clips")
    p.add_argument("--status", required=True, type=Path, help="JSON status record to write (last)")
    p.add_argument("--mirror", default=None, help="mirror directory (default: $SSL_DATA_MIRROR; none: upstream)")
    p.add_argument("--copy", action="store_true", help="copy mirror clips instead of symlinking them")
    p.add_argument("--limit", type=int, default=None, help="only the first N clips of meta.csv (tests)")
    args = p.parse_args(argv)
    row = source_row(args.dataset)
    mirror = mirror_from_env(args.mirror)
    args.out.mkdir(parents=True, exist_ok=True)
    if mirror is not None:
        status = fetch_from_mirror(args.dataset, row, mirror, args.out, copy=args.copy, limit=args.limit)
    else:
        status = fetch_upstream(args.dataset, row, args.out, limit=args.limit)
    status = {"dataset": args.dataset, "complete": not status["missing"], **status, "license": row["license"]}
    write_json(args.status, status)
    print(f"{args.dataset}: {status['clips']} of {status['listed']} clips in {args.out} (from {status['origin']}"
          f"{', ' + str(len(status['missing'])) + ' missing' if status['missing'] else ''})")


if __name__ == "__main__":
    main()
