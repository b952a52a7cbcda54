"""Audio test helpers: the real clips from the mirror, small data-set directories, and crafted bad files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from tests.conftest import REPO

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def audio_mirror(mirror: Path) -> Path:
    """The mirror, skipping when it holds no audio/."""
    if not (mirror / "audio" / "esc50" / "meta.csv").is_file() or not (mirror / "audio" / "fsdd" / "meta.csv").is_file():
        pytest.skip("mirror has no audio/esc50 and audio/fsdd")
    return mirror


def fsdd_subset(mirror: Path, dest: Path, n: int = 24) -> Path:
    """A writable FSDD directory (meta.csv + recordings/) with the first ``n`` real recordings of each split."""
    meta = pd.read_csv(mirror / "audio" / "fsdd" / "meta.csv")
    rows = pd.concat([meta[meta.split == "test"].head(n // 2), meta[meta.split == "train"].head(n - n // 2)])
    (dest / "recordings").mkdir(parents=True)
    for f in rows.filename:
        shutil.copyfile(mirror / "audio" / "fsdd" / "recordings" / f, dest / "recordings" / f)
    rows.to_csv(dest / "meta.csv", index=False)
    return dest / "meta.csv"


def esc_subset(mirror: Path, dest: Path, n: int = 12) -> Path:
    """A writable ESC-50 directory (meta.csv + audio/) with ``n`` real ESC-10 clips."""
    meta = pd.read_csv(mirror / "audio" / "esc50" / "meta.csv")
    rows = meta[meta.esc10].head(n)
    (dest / "audio").mkdir(parents=True)
    for f in rows.filename:
        shutil.copyfile(mirror / "audio" / "esc50" / "audio" / f, dest / "audio" / f)
    rows.to_csv(dest / "meta.csv", index=False)
    return dest / "meta.csv"


def write_wave(path: Path, samples: np.ndarray, rate: int, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, rate, subtype=subtype)
    return path


def run_stage(module: str, *args, subprocess_: bool = False, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m <module> args``: in this process (its ``main``, output captured; fast) or, with ``subprocess_``,
    as a real command from the repository root."""
    argv = [str(a) for a in args]
    if subprocess_:
        return subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, cwd=REPO,
                              timeout=timeout)
    import contextlib
    import importlib
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            importlib.import_module(module).main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess([module, *argv], code, out.getvalue(), err.getvalue())
