"""The one installed command line: every stage of every domain answers --help in one process, and every stage a
rule calls is reachable through it."""

from __future__ import annotations

import re

import pytest

from domains.cli import STAGES, main
from tests.conftest import REPO


def test_every_subcommand_answers_help_in_one_process(capsys):
    for domain, stages in STAGES.items():
        for stage, module in stages.items():
            with pytest.raises(SystemExit) as exit_:
                main([domain, stage, "--help"])
            out = capsys.readouterr().out
            assert exit_.value.code == 0, (domain, stage)
            assert out.startswith("usage:") and "--help" in out, (domain, stage, out[:200])


def test_every_stage_a_rule_calls_is_a_subcommand():
    called = set()
    for smk in (REPO / "workflows").glob("*.smk"):
        called |= set(re.findall(r"python -m (domains(?:\.\w+){2,})", smk.read_text()))
    offered = {m for stages in STAGES.values() for m in stages.values()}
    assert called and called <= offered, sorted(called - offered)


def test_top_level_help_and_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and "medical" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["medicl", "train"])
    assert exit_.value.code == 2 and "unknown domain 'medicl'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["medical", "trian"])
    assert exit_.value.code == 2 and "unknown medical stage 'trian'" in capsys.readouterr().err


def test_console_script_is_declared():
    assert 'ssl-workflows = "domains.cli:main"' in (REPO / "pyproject.toml").read_text()
