"""The medical table: each method's paired accuracy difference to the logistic regression on the same seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from domains.docs import headline, verdicts
from domains.medical.m3col.evaluate import aggregate
from domains.medical.m3col.table import build_table


def _metrics(method: str, accuracy: dict[int, float], dataset: str = "ROSMAP") -> dict:
    runs = [{"dataset": dataset, "method": method, "seed": s, "selection": "last", "epochs": 3, "fit_seconds": 1.0,
             "epoch_seconds_median": 0.1, "metrics": {"accuracy": a, "f1": a, "auc": a}} for s, a in accuracy.items()]
    return aggregate(runs)


STATUS = [{"dataset": "ROSMAP", "complete": True, "missing": []}]


def test_paired_difference_to_logistic_regression_on_common_seeds():
    logreg = _metrics("logreg", {0: 0.80, 1: 0.70, 2: 0.75})
    m3col = _metrics("m3col", {0: 0.82, 1: 0.69, 2: 0.80})
    mogonet = _metrics("mogonet", {1: 0.75, 2: 0.75, 7: 0.10})  # seed 7 has no logistic regression: not paired
    table = build_table([m3col, mogonet, logreg], STATUS).set_index("method")
    d = np.array([0.02, -0.01, 0.05])
    assert table.loc["M3CoL (ours)", "accuracy_minus_logreg"] == pytest.approx(d.mean())
    assert table.loc["M3CoL (ours)", "accuracy_minus_logreg_se"] == pytest.approx(d.std(ddof=1) / np.sqrt(3))
    assert table.loc["M3CoL (ours)", "better_than_logreg"] == "2/3"
    assert table.loc["MOGONET (ours)", "accuracy_minus_logreg"] == pytest.approx(0.025)
    assert table.loc["MOGONET (ours)", "better_than_logreg"] == "1/2"  # a tie is not better
    # the reference itself and the paper's rows have no paired difference
    for row in ("logistic regression (ours)", "M3CoL (paper)", "MOGONET (paper)"):
        assert pd.isna(table.loc[row, "accuracy_minus_logreg"]) and pd.isna(table.loc[row, "better_than_logreg"])
    assert list(table.columns[-4:]) == ["accuracy_minus_logreg", "accuracy_minus_logreg_se", "better_than_logreg",
                                        "source"]


def test_no_logistic_regression_no_paired_columns():
    table = build_table([_metrics("m3col", {0: 0.8, 1: 0.7})], STATUS)
    assert "accuracy_minus_logreg" not in table.columns and "better_than_logreg" not in table.columns
    one = build_table([_metrics("m3col", {0: 0.8}), _metrics("logreg", {0: 0.7})], STATUS).set_index("method")
    assert one.loc["M3CoL (ours)", "accuracy_minus_logreg"] == pytest.approx(0.1)
    assert pd.isna(one.loc["M3CoL (ours)", "accuracy_minus_logreg_se"])  # one pair: no standard error


def test_verdict_and_headline_give_the_paired_difference():
    logreg = _metrics("logreg", {0: 0.80, 1: 0.70, 2: 0.75})
    m3col = _metrics("m3col", {0: 0.78, 1: 0.69, 2: 0.74})
    table = build_table([m3col, logreg], STATUS)
    line = verdicts("medical", table)[0]
    assert line.startswith("- ROSMAP, accuracy (higher is better): M3CoL (ours) 0.737")
    assert line.endswith("; paired with logistic regression (ours) on the same splits and seeds: -0.013 ± 0.003, better on 0/3")
    assert "better on 0/3" in headline({"medical": table})


def test_source_gives_the_range_of_epochs_when_the_runs_trained_differently():
    runs = [{"dataset": "ROSMAP", "method": "m3col", "seed": s, "selection": "last", "epochs": e, "fit_seconds": 1.0,
             "epoch_seconds_median": 0.1, "metrics": {"accuracy": 0.8, "f1": 0.8, "auc": 0.8}}
            for s, e in ((0, 150), (1, 300), (2, 150))]
    assert aggregate(runs)["epochs"] == "150-300"
    assert aggregate(runs[::2])["epochs"] == 150
    table = build_table([aggregate(runs)], STATUS, "resplit")
    assert "3 re-splits, 150-300 epochs, selection=last" in table.iloc[0]["source"]
