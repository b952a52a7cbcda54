"""remove_on_failure: a failed stage leaves no finished-looking outputs, and keeps everything else."""

from __future__ import annotations

import pytest

from ssl_core.atomic import remove_on_failure


def test_failure_removes_named_outputs_only_and_reraises(tmp_path):
    for name in ("run.json", "model.pt", "last.ckpt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(KeyboardInterrupt):
        with remove_on_failure(tmp_path, ("run.json", "model.pt", "absent.tsv")):
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_success_keeps_outputs(tmp_path):
    with remove_on_failure(tmp_path, ("run.json",)):
        (tmp_path / "run.json").write_text("{}")
    assert (tmp_path / "run.json").read_text() == "{}"
