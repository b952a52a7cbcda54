"""Shared fixtures: where the data mirror is, and small copies of real data to corrupt."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def mirror_dir() -> Path | None:
    """The data mirror ($SSL_DATA_MIRROR, else ../shared/data beside the repo), or None."""
    candidates = [os.environ.get("SSL_DATA_MIRROR"), str(REPO.parent / "shared" / "data")]
    for c in candidates:
        if c and (Path(c) / "medical" / "ROSMAP").is_dir():
            return Path(c).resolve()
    return None


@pytest.fixture(scope="session")
def mirror() -> Path:
    m = mirror_dir()
    if m is None:
        pytest.skip("no data mirror: set SSL_DATA_MIRROR to a directory holding medical/ROSMAP")
    return m


@pytest.fixture()
def rosmap_copy(tmp_path: Path, mirror: Path) -> Path:
    """A writable copy of the real ROSMAP files."""
    dest = tmp_path / "ROSMAP"
    shutil.copytree(mirror / "medical" / "ROSMAP", dest)
    for f in dest.iterdir():
        f.chmod(0o644)
    return dest
