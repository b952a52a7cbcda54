"""Faults: a training job killed with SIGKILL resumes from its last checkpoint and ends with exactly the
metrics of an uninterrupted run; crafted checkpoints are refused without running their code; user strings never
reach a shell unquoted."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
from pathlib import Path

import pytest

from ssl_core.config import load_config
from ssl_core.errors import InputError
from tests.conftest import REPO
from tests.faults import kill_and_resume
from tests.medical.conftest import train_cmd

HP = json.dumps({"model": {"embed_dim": 16, "head_dim": 16}, "train": {"epochs": 400, "checkpoint_every": 5}})


def _cmd(data: Path, out: Path) -> list[str]:
    return train_cmd(data, out, "--hparams", HP)


@pytest.fixture(scope="module")
def reference(rosmap_h5ad, tmp_path_factory) -> Path:
    """Output directory of an uninterrupted run."""
    out = tmp_path_factory.mktemp("ref")
    subprocess.run(_cmd(rosmap_h5ad, out), check=True, capture_output=True, cwd=REPO)
    return out


# One signal per domain (the other is sent in another domain's fault test; both reach the same harness code).
@pytest.mark.parametrize("sig", [signal.SIGKILL], ids=["SIGKILL"])
def test_killed_training_resumes_and_matches_uninterrupted_run(rosmap_h5ad, reference, tmp_path, sig):
    out = tmp_path / "seed0"
    kill_and_resume(_cmd(rosmap_h5ad, out), out / "checkpoints" / "last.ckpt", sig, out / "run.json")
    run, ref = (json.loads((d / "run.json").read_text()) for d in (out, reference))
    assert run["resumed_at_epoch"] > 0
    assert run["metrics"] == ref["metrics"]  # same seed, same stream of random numbers: identical
    assert run["selected_epoch"] == ref["selected_epoch"]
    # the killed process's epochs are in the history too (kept in the checkpoints), with the same values
    assert (out / "history.csv").read_text() == (reference / "history.csv").read_text()


class _RunsCode:
    """Unpickling this object would create a file (proof that code ran)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_checkpoint_is_refused_without_running_it(rosmap_h5ad, tmp_path):
    out = tmp_path / "seed0"
    (out / "checkpoints").mkdir(parents=True)
    marker = tmp_path / "code-ran"
    with open(out / "checkpoints" / "last.ckpt", "wb") as fh:
        pickle.dump({"state_dict": _RunsCode(marker)}, fh)
    proc = subprocess.run(_cmd(rosmap_h5ad, out), capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "last.ckpt: not a loadable checkpoint" in proc.stderr and "delete it" in proc.stderr
    assert not marker.exists()
    assert not (out / "run.json").exists()


@pytest.mark.parametrize("name", ["../etc", "ROSMAP/x", "a;rm -rf ~", "$(reboot)", "x y"])
def test_dataset_names_with_path_or_shell_characters_are_rejected(name):
    with pytest.raises(InputError, match=r"config: medical\.datasets\.0: .* does not match"):
        load_config([REPO / "config" / "config.yaml"], {"medical": {"datasets": [name]}})


def test_every_shell_placeholder_is_quoted_or_numeric():
    """Paths, parameters and string wildcards reach the shell only through Snakemake's :q quoting."""
    unquoted = []
    for smk in (REPO / "workflows").glob("*.smk"):
        for cmd in re.findall(r'shell:\s*\n((?:\s+".*"\n)+)', smk.read_text()):
            for field in re.findall(r"\{([^{}]+)\}", cmd):
                if field.endswith(":q") or field in ("wildcards.seed", "wildcards.method", "threads", "log"):
                    continue
                if field in ("params.init", "params.trained", "params.trunk", "params.source", "params.tokenizer",
                             "params.chosen", "params.dev"):
                    continue  # option strings whose paths the helpers quote with shlex.quote (tested below)
                unquoted.append(f"{smk.name}: {{{field}}}")
    assert not unquoted, unquoted


def test_option_string_params_quote_their_paths():
    """The params that are whole option strings quote every path inside with shlex.quote."""
    text = "".join(smk.read_text() for smk in (REPO / "workflows").glob("*.smk"))
    assert 'f"--init {shlex.quote(input.init[0])}"' in text
    assert 'f"--init {shlex.quote(str(input.init))}"' in text
    assert 'return f"--sheet {shlex.quote(sheet)}"' in text  # medical: a user's sample sheet
    assert "--mirror {shlex.quote(data_mirror())}" in text
    assert "--trained {shlex.quote(" in text
    assert 'f"--trunk {shlex.quote(input.trunk)}"' in text
    assert 'f"--tokenizer {shlex.quote(str(input.tokenizer))}"' in text  # code: the from-scratch variants' tokenizer
    assert 'f"--chosen {shlex.quote(input.chosen[0])}"' in text  # medical: a re-split's selection record
    assert 'f"--dev {shlex.quote(str(input.dev))}"' in text  # code: the dev stage's choice
