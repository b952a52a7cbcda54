"""A real single-node SLURM cluster (tests/slurm/start.sh, stop.sh) for the tests marked ``slurm``."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CANNOT = 77  # start.sh: SLURM cannot be set up here (not root, no apt-get, install failed)
BUSY = 75  # start.sh: another start.sh cluster is running on this machine


def pytest_configure(config):
    config.addinivalue_line("markers", "slurm: runs the workflow through a real single-node SLURM cluster")


def _stop(state: Path) -> None:
    subprocess.run(["bash", str(HERE / "stop.sh"), str(state)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def slurm_cluster():
    """Start the cluster once per session and always stop it; yields the environment that reaches it.

    Skipped (with start.sh's reason) only where SLURM cannot be installed; any other start failure fails."""
    # Not under pytest's tmp dir: that is private to root (0700) and munged runs as the user munge.
    state = Path(tempfile.mkdtemp(prefix="ssl-slurm-"))
    deadline = time.monotonic() + 600
    while True:
        try:
            proc = subprocess.run(["bash", str(HERE / "start.sh"), str(state)], capture_output=True, text=True,
                                  timeout=600)
        except subprocess.TimeoutExpired:
            _stop(state)
            pytest.fail("tests/slurm/start.sh did not finish in 10 minutes")
        if proc.returncode != BUSY or time.monotonic() > deadline:
            break
        time.sleep(5)  # another test session's cluster is up (one per machine): wait for it to stop
    if proc.returncode == CANNOT:
        _stop(state)
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    if proc.returncode != 0:
        _stop(state)
        pytest.fail(f"tests/slurm/start.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    try:
        yield {"SLURM_CONF": str(state / "slurm.conf"), "state": str(state)}
    finally:
        _stop(state)
        for pidfile in ("slurmd.pid", "slurmctld.pid", "munged.pid"):
            assert not (state / pidfile).exists(), f"stop.sh left {pidfile}"


def slurm_env(cluster: dict[str, str], **extra: str) -> dict[str, str]:
    return dict(os.environ, SLURM_CONF=cluster["SLURM_CONF"], **extra)
