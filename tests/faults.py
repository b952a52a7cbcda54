"""Checks every training stage's tests share (tests/<domain>/test_faults.py and the workflow tests):

- :func:`kill_and_resume`: start a stage's command, kill it with SIGTERM or SIGKILL once it has written a
  checkpoint, rerun the same command and check that it resumed (the caller then compares the result with an
  uninterrupted run: the harness makes them identical);
- :func:`restarted_with_reason`: a rerun after a config edit trained from scratch and its log names the edited
  key.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

__all__ = ["start_and_kill", "kill_and_resume", "restarted_with_reason"]


def start_and_kill(cmd: list[str], ckpt: Path, sig: int, *, cwd: Path = REPO, env: dict | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess:
    """Start ``cmd``, wait until ``ckpt`` (a ``last.ckpt``) exists, then send ``sig``."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not ckpt.exists():
        if proc.poll() is not None:
            pytest.fail(f"the stage ended before its first checkpoint: {proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, f"no checkpoint within {timeout} s"
        time.sleep(0.02)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def kill_and_resume(cmd: list[str], ckpt: Path, sig: int, result: Path, *, cwd: Path = REPO,
                    env: dict | None = None) -> subprocess.CompletedProcess:
    """Kill ``cmd`` with ``sig`` after its first checkpoint, check that it left no ``result`` and exited as a
    killed stage should (SIGTERM: 143 and ``interrupted:``), rerun it and check that it resumed and wrote
    ``result``. Returns the resumed run."""
    killed = start_and_kill(cmd, ckpt, sig, cwd=cwd, env=env)
    if killed.returncode == 0:
        pytest.fail("training finished before the signal arrived; make the run longer")
    if sig == signal.SIGTERM:
        assert killed.returncode == 143, killed.stderr[-2000:]
        assert "interrupted: training stopped at step" in killed.stderr
    else:
        assert killed.returncode == -signal.SIGKILL
    assert not result.exists()
    assert ckpt.exists()
    resumed = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr and "Restoring states from the checkpoint" in resumed.stderr
    assert result.exists()
    return resumed


def restarted_with_reason(log: Path, key: str) -> bool:
    """Whether a training job's log says it trained from scratch because config ``key`` changed."""
    text = log.read_text()
    return "training from scratch" in text and f"config.{key}:" in text
