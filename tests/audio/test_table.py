"""The domain table: rows from any metrics JSON with table_rows; malformed inputs fail naming the file."""

from __future__ import annotations

import json

import pytest

from domains.audio.table import build_table
from ssl_core.errors import InputError


def test_rows_from_several_parts(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"table_rows": [{"part": "semisup", "dataset": "fsdd", "method": "FixMatch (ours)",
                                             "metric": "error_rate", "value": 0.1, "std": 0.01, "n": 3, "source": "x"}]}))
    b.write_text(json.dumps({"table_rows": [{"part": "clap", "dataset": "esc50", "method": "zero-shot",
                                             "metric": "accuracy", "value": 0.5, "source": "y"}]}))
    t = build_table([a, b])
    assert t["part"].tolist() == ["semisup", "clap"] and t["n"].tolist()[0] == 3 and t["n"].isna().tolist() == [False, True]


def test_malformed_metrics_fail_naming_file(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text("{")
    with pytest.raises(InputError, match=f"^{bad}: not a readable JSON"):
        build_table([bad])
    bad.write_text(json.dumps({"table_rows": [{"part": "semisup"}]}))
    with pytest.raises(InputError, match=r"table_rows\[0\] lacks dataset"):
        build_table([bad])
    bad.write_text(json.dumps({"x": 1}))
    with pytest.raises(InputError, match="no 'table_rows' list"):
        build_table([bad])
