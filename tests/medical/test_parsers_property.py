"""Property-based tests (hypothesis) for the parsers of user files: any numeric matrix written as CSV reads back
exactly; any byte string either parses or fails with InputError naming the file, never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from domains.medical.data.readers import read_labels, read_matrix_csv
from domains.medical.data.datasets import get_spec
from ssl_core.errors import InputError

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e12, max_value=1e12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 9)), elements=FINITE))
def test_numeric_csv_round_trips(matrix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.csv"
        np.savetxt(path, matrix, delimiter=",", fmt="%.17g")
        values, _, _ = read_matrix_csv(path)
        np.testing.assert_array_equal(values, matrix)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_fail_with_input_error_naming_the_file(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user.csv"
        path.write_bytes(data)
        try:
            values, _, _ = read_matrix_csv(path)
        except InputError as exc:
            assert str(exc).startswith(f"{path}: ")
        else:
            assert np.isfinite(values).all() and values.ndim == 2


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10), min_size=1, max_size=30))
def test_labels_are_accepted_exactly_when_whole_numbers_in_class_range(labels):
    spec = get_spec("BRCA")
    values = np.asarray(labels)
    valid = all(float(v).is_integer() and 0 <= v < spec.n_classes for v in labels)
    try:
        out = read_labels(Path("labels.csv"), values, spec)
    except InputError as exc:
        assert not valid and "outside the class set" in str(exc)
    else:
        assert valid and out.tolist() == [int(v) for v in labels]
