"""Fixtures of the medical tests: the real ROSMAP files as the prepare stage writes them, and the training CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from domains.medical.data.readers import load_dataset
from domains.medical.data.datasets import get_spec
from tests.conftest import REPO


@pytest.fixture(scope="session")
def rosmap_h5ad(tmp_path_factory, mirror) -> Path:
    path = tmp_path_factory.mktemp("prep") / "data.h5ad"
    load_dataset(mirror / "medical" / "ROSMAP", get_spec("ROSMAP")).write_h5ad(path)
    return path


def train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    """The training stage's command line (seed 0, no progress bar) for ``data`` into ``out``."""
    return [sys.executable, "-m", "domains.medical.m3col.train", "--data", str(data), "--seed", "0", "--out", str(out),
            "--no-progress", *extra]


def train(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run :func:`train_cmd` from the repository root and capture its output."""
    return subprocess.run(train_cmd(data, out, *extra), capture_output=True, text=True, cwd=REPO)
