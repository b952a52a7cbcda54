"""A user's own medical data set: a sample sheet naming one CSV per view (any number >= 2) and a label file.
Read into the same AnnData as the shipped data sets; every bad input is one line naming the file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from domains.medical.data.readers import load_sheet_dataset, preprocess, view_slices
from domains.medical.data.sheet import read_sheet
from domains.medical.settings import check_datasets
from ssl_core.errors import InputError
from tests.conftest import REPO

VIEWS = {"rna": 120, "methylation": 90, "protein": 60, "cnv": 50}  # four views of different widths
CLASSES = ("luminal", "basal", "her2")


def make_user_dataset(root: Path, n: int = 45, seed: int = 0, split: bool = False) -> Path:
    """A cohort of ``n`` samples in three classes (class-dependent means in every view) written as a user would:
    one CSV per view with its samples in its own order and one extra unlabelled sample, a label CSV, and the sheet.
    Returns the sheet."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    ids = [f"P{i:03d}" for i in range(n)]
    labels = [CLASSES[i % 3] for i in range(n)]
    y = np.array([CLASSES.index(c) for c in labels])
    rows = ["kind\tname\tfile"]
    for view, width in VIEWS.items():
        centres = rng.normal(0, 2, (3, width))
        x = 10 + centres[y] + rng.normal(0, 1, (n, width))  # expression-like: positive
        frame = pd.DataFrame(x, index=ids, columns=[f"{view}_{j}" for j in range(width)])
        extra = pd.DataFrame(rng.normal(0, 1, (1, width)), index=["unlabelled"], columns=frame.columns)
        pd.concat([frame, extra]).sample(frac=1.0, random_state=seed).to_csv(root / f"{view}.csv", index_label="id")
        rows.append(f"view\t{view}\tviews/../{view}.csv" if view == "cnv" else f"view\t{view}\t{view}.csv")
    lab = pd.DataFrame({"sample": ids, "label": labels})
    if split:
        lab["split"] = ["test" if i % 4 == 0 else "train" for i in range(n)]
    lab.to_csv(root / "labels.csv", index=False)
    rows.append("labels\tlabels\tlabels.csv")
    (root / "views").mkdir(exist_ok=True)
    (root / "sheet.tsv").write_text("\n".join(rows) + "\n")
    return root / "sheet.tsv"


def test_user_dataset_loads_every_view_in_sheet_order(tmp_path):
    sheet = make_user_dataset(tmp_path / "cohort")
    a = load_sheet_dataset(sheet, "mycohort")
    assert list(a.uns["views"]) == list(VIEWS) and list(a.uns["classes"]) == sorted(CLASSES)
    assert a.n_obs == 45 and a.n_vars == sum(VIEWS.values())
    assert [len(s) for s in view_slices(a)] == list(VIEWS.values())
    assert set(a.obs["split"]) == {"all"} and "unlabelled" not in a.obs_names
    # rows are matched by id, not by position: P007's rna values are its own row of rna.csv
    rna = pd.read_csv(tmp_path / "cohort" / "rna.csv", index_col=0)
    np.testing.assert_allclose(a[a.obs_names == "P007"].X[0, : VIEWS["rna"]], rna.loc["P007"].to_numpy(), rtol=1e-6)
    labels = np.array(sorted(CLASSES))[a.obs["label"].to_numpy()]
    assert list(labels[:3]) == ["luminal", "basal", "her2"]
    # per-view preprocessing uses the sheet's views
    assert preprocess(a, n_top_features=20).n_vars == 20 * len(VIEWS)
    a.X[0, 0] = -1.0
    with pytest.raises(InputError, match="n_top_features ranks features by dispersion.*view 'rna' has negatives"):
        preprocess(a, n_top_features=20)


def test_split_column_fixes_the_split(tmp_path):
    a = load_sheet_dataset(make_user_dataset(tmp_path / "c", split=True), "c")
    assert (a.obs["split"] == "test").sum() == 12 and (a.obs["split"] == "train").sum() == 33


def _edit(path: Path, fn) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


@pytest.mark.parametrize("edit,file,message", [
    (lambda d: _edit(d / "rna.csv", lambda l: [x for x in l if not x.startswith("P010,")]), "rna.csv",
     "samples of labels.csv are missing, e.g. P010"),
    (lambda d: _edit(d / "labels.csv", lambda l: l + [l[5]]), "labels.csv", "line 47: sample id 'P004' again"),
    (lambda d: _edit(d / "protein.csv", lambda l: l + [l[1]]), "protein.csv", "again (first on line 2)"),
    (lambda d: _edit(d / "labels.csv", lambda l: l + ["P999,rare"]), "labels.csv", "label 'rare' has one sample"),
    (lambda d: _edit(d / "labels.csv", lambda l: [l[0] + ",batch"] + [x + ",1" for x in l[1:]]), "labels.csv",
     "line 1: unknown column 'batch'"),
    (lambda d: _edit(d / "labels.csv", lambda l: [l[0] + ",split"] + [x + ",validation" for x in l[1:]]), "labels.csv",
     "line 2: split 'validation' is not 'train' or 'test'"),
    (lambda d: _edit(d / "labels.csv", lambda l: [l[0] + ",split"] + [x + (",test" if x.endswith(",her2") and i > 2
                                                                             else ",train") for i, x in enumerate(l[1:])]),
     "labels.csv", "label 'her2' has 1 'train' rows"),
    (lambda d: _edit(d / "sheet.tsv", lambda l: l[:1] + ["view\tx\t../outside.csv"] + l[1:]), "sheet.tsv",
     "line 2: file '../outside.csv' is not inside the sheet's directory"),
    (lambda d: _edit(d / "sheet.tsv", lambda l: l[:1] + ["view\tx\t/etc/passwd"] + l[1:]), "sheet.tsv",
     "line 2: file '/etc/passwd' is not inside the sheet's directory"),
    (lambda d: _edit(d / "sheet.tsv", lambda l: [l[0] + "\tnote"] + [x + "\t-" for x in l[1:]]), "sheet.tsv",
     "line 1: unknown column 'note'"),
    (lambda d: _edit(d / "sheet.tsv", lambda l: [l[0], l[1], l[-1]]), "sheet.tsv", "needs two or more 'view' rows, found 1"),
    (lambda d: _edit(d / "sheet.tsv", lambda l: l + [l[1]]), "sheet.tsv", "line 7: view 'rna' again"),
    (lambda d: _edit(d / "sheet.tsv", lambda l: l + ["table\tt\trna.csv"]), "sheet.tsv", "kind 'table' is not"),
    (lambda d: (d / "cnv.csv").unlink(), "sheet.tsv", "line 5: file 'views/../cnv.csv' not found"),
    (lambda d: _edit(d / "cnv.csv", lambda l: l[:3] + [l[3].rsplit(",", 1)[0] + ",abc"] + l[4:]), "cnv.csv",
     "line 4, column 51: 'abc' is not a number"),
])
def test_bad_user_data_is_one_clear_error(tmp_path, edit, file, message):
    sheet = make_user_dataset(tmp_path / "cohort")
    edit(sheet.parent)
    with pytest.raises(InputError) as err:
        load_sheet_dataset(sheet, "mycohort")
    text = str(err.value)
    assert file in text and message in text, text
    assert "\n" not in text


def test_prepare_and_fetch_cli_check_the_sheet_and_write_nothing_on_error(tmp_path):
    sheet = make_user_dataset(tmp_path / "cohort")
    _edit(sheet.parent / "labels.csv", lambda l: l + ["P999,rare"])
    for module, out in (("domains.medical.data.prepare", "data.h5ad"), ("domains.medical.data.fetch", "status.json")):
        flag = "--out" if out.endswith("h5ad") else "--status"
        proc = subprocess.run([sys.executable, "-m", module, "--dataset", "mycohort", "--sheet", str(sheet), flag,
                               str(tmp_path / out)], capture_output=True, text=True, cwd=REPO)
        if module.endswith("fetch"):  # the check of the sheet alone passes: the labels are read by prepare
            assert proc.returncode == 0, proc.stderr
            continue
        assert proc.returncode == 2
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "labels.csv: line 47: label 'rare' has one sample" in lines[0]
        assert not (tmp_path / out).exists()


def test_unknown_data_set_name_in_config():
    section = {"datasets": ["ROSMAP", "mycohort"], "user_datasets": {}}
    with pytest.raises(InputError, match=r"config: medical.datasets: unknown data set 'mycohort'"):
        check_datasets(section)
    check_datasets({**section, "user_datasets": {"mycohort": "sheet.tsv"}})
    # the re-split protocol's list too (a typo there would silently re-split nothing)
    resplit = {"datasets": ["ROSMAP"], "user_datasets": {}, "resplit": {"datasets": ["ROSMAPP"]}}
    with pytest.raises(InputError, match=r"config: medical.resplit.datasets: unknown data set 'ROSMAPP'"):
        check_datasets(resplit)
    check_datasets({**resplit, "resplit": {"datasets": ["BRCA"]}})  # shipped, not in datasets: skipped, no error
    check_datasets({**resplit, "resplit": {"datasets": None}})


def test_sheet_lists_every_file_it_names(tmp_path):
    sheet = read_sheet(make_user_dataset(tmp_path / "cohort"))
    assert [p.name for p in sheet.files] == [f"{v}.csv" for v in VIEWS] + ["labels.csv"]
    assert all(p.is_absolute() and p.is_file() for p in sheet.files)
