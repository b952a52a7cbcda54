"""Property-based tests (hypothesis) for the metadata readers: any bytes either parse into a valid table or fail
with an InputError naming the file; any FSDD-style file names parse back into their fields."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from domains.audio.data.readers import read_esc50_meta, read_fsdd_meta
from ssl_core.errors import InputError

HEADER = "filename,fold,target,category,esc10\n"


@settings(max_examples=120, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["esc50", "fsdd"]), st.booleans())
def test_arbitrary_meta_parses_or_fails_with_input_error_naming_the_file(data, dataset, with_header):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "meta.csv"
        prefix = (HEADER if dataset == "esc50" else "filename\n").encode() if with_header else b""
        path.write_bytes(prefix + data)
        reader = read_esc50_meta if dataset == "esc50" else read_fsdd_meta
        try:
            df = reader(path, drop_missing=False)
        except InputError as exc:
            assert str(exc).startswith(f"{path}: ")
        else:
            assert len(df) >= 1 and df["filename"].is_unique
            if dataset == "esc50":
                assert df["fold"].between(1, 5).all() and df["target"].between(0, 49).all()
            else:
                assert df["digit"].between(0, 9).all() and set(df["split"]) <= {"train", "test"}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(0, 99)),
                min_size=1, max_size=12, unique=True))
def test_fsdd_names_parse_back(fields):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "meta.csv"
        path.write_text("filename\n" + "".join(f"{d}_{s}_{i}.wav\n" for d, s, i in fields))
        df = read_fsdd_meta(path, drop_missing=False)
        assert list(zip(df.digit, df.speaker, df["index"])) == fields
        assert df.split.tolist() == ["test" if i < 5 else "train" for _, _, i in fields]
