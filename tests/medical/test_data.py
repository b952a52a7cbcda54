"""Reading the real omics files, and one clear error for each kind of bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from domains.medical.data.readers import load_dataset, preprocess, view_slices
from domains.medical.data.datasets import get_spec
from ssl_core.errors import InputError
from tests.conftest import REPO

ROSMAP = get_spec("ROSMAP")


def test_rosmap_loads_with_fixed_split(rosmap_copy):
    a = load_dataset(rosmap_copy, ROSMAP)
    assert a.shape == (351, 600)
    assert (a.obs["split"] == "train").sum() == 245 and (a.obs["split"] == "test").sum() == 106
    assert [len(s) for s in view_slices(a)] == [200, 200, 200]
    assert set(a.obs["label"]) == {0, 1}


def test_tcga_brca_rows_are_matched_by_id(mirror):
    a = load_dataset(mirror / "medical" / "TCGA-BRCA", get_spec("TCGA-BRCA"))
    assert a.shape == (769, 700)
    assert np.bincount(a.obs["label"]).tolist() == [419, 46, 140, 130, 34]
    assert (a.obs["split"] == "all").all()


def _rewrite(path: Path, transform) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(transform(lines)) + "\n")


def test_missing_file(rosmap_copy):
    (rosmap_copy / "2_te.csv").unlink()
    with pytest.raises(InputError, match=r"2_te\.csv: file not found"):
        load_dataset(rosmap_copy, ROSMAP)


def test_empty_file(rosmap_copy):
    (rosmap_copy / "1_tr.csv").write_text("")
    with pytest.raises(InputError, match=r"1_tr\.csv: file is empty"):
        load_dataset(rosmap_copy, ROSMAP)


def test_truncated_file_names_the_line(rosmap_copy):
    path = rosmap_copy / "3_tr.csv"
    text = path.read_text()
    path.write_text(text[: len(text) - 4000])  # cut inside the last lines
    with pytest.raises(InputError, match=r"3_tr\.csv: truncated: line \d+ has \d+ of 200 values"):
        load_dataset(rosmap_copy, ROSMAP)


def test_nan_value_names_line_and_column(rosmap_copy):
    def put_nan(lines):
        fields = lines[4].split(",")
        fields[7] = "nan"
        lines[4] = ",".join(fields)
        return lines

    _rewrite(rosmap_copy / "1_te.csv", put_nan)
    with pytest.raises(InputError, match=r"1_te\.csv: line 5, column 8: missing value"):
        load_dataset(rosmap_copy, ROSMAP)


def test_text_cell_names_line_and_column(rosmap_copy):
    def put_text(lines):
        lines[2] = "abc," + lines[2].split(",", 1)[1]
        return lines

    _rewrite(rosmap_copy / "2_tr.csv", put_text)
    with pytest.raises(InputError, match=r"2_tr\.csv: line 3, column 1: 'abc' is not a number"):
        load_dataset(rosmap_copy, ROSMAP)


def test_views_with_different_sample_counts(rosmap_copy):
    _rewrite(rosmap_copy / "2_tr.csv", lambda lines: lines[:-1])
    with pytest.raises(InputError, match=r"2_tr\.csv: 244 samples, but labels_tr\.csv has 245 labels"):
        load_dataset(rosmap_copy, ROSMAP)


def test_label_outside_class_set(rosmap_copy):
    _rewrite(rosmap_copy / "labels_te.csv", lambda lines: lines[:9] + ["2.0"] + lines[10:])
    with pytest.raises(InputError, match=r"labels_te\.csv: line 10: label 2 is outside the class set 0\.\.1"):
        load_dataset(rosmap_copy, ROSMAP)


def test_feature_names_must_match_columns(rosmap_copy):
    _rewrite(rosmap_copy / "1_featname.csv", lambda lines: lines[:-3])
    with pytest.raises(InputError, match=r"1_tr\.csv: 200 features, but 1_featname\.csv names 197"):
        load_dataset(rosmap_copy, ROSMAP)


def test_not_utf8(rosmap_copy):
    (rosmap_copy / "labels_tr.csv").write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(InputError, match=r"labels_tr\.csv"):
        load_dataset(rosmap_copy, ROSMAP)


def test_preprocess_top_features_uses_training_rows_only(rosmap_copy):
    a = load_dataset(rosmap_copy, ROSMAP)
    b = preprocess(a, n_top_features=50)
    assert b.n_vars < a.n_vars
    # Changing test rows must not change which features are kept.
    a2 = a.copy()
    a2.X[a2.obs["split"].to_numpy() == "test"] = np.random.default_rng(0).random((106, 600), dtype=np.float32) * 50
    assert list(preprocess(a2, n_top_features=50).var_names) == list(b.var_names)


def test_prepare_cli_one_line_error_and_no_output(rosmap_copy, tmp_path):
    _rewrite(rosmap_copy / "labels_tr.csv", lambda lines: lines[:3] + ["7"] + lines[4:])
    out = tmp_path / "data.h5ad"
    proc = subprocess.run(
        [sys.executable, "-m", "domains.medical.data.prepare", "--dataset", "ROSMAP", "--raw", str(rosmap_copy), "--out", str(out)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "labels_tr.csv: line 4" in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".data.h5ad*"))
