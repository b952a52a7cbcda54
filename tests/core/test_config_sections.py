"""resolve_section: the one way every stage reads its config section and its --hparams override."""

from __future__ import annotations

import pytest

from ssl_core.config import resolve_section
from ssl_core.errors import InputError


def test_nested_section_merges_override_and_keeps_other_keys():
    base = resolve_section(("audio", "clap"), None, None)
    merged = resolve_section(("audio", "clap"), None, '{"train": {"seed": 7}}')
    assert merged["train"]["seed"] == 7
    assert {k: v for k, v in merged["train"].items() if k != "seed"} == {
        k: v for k, v in base["train"].items() if k != "seed"}
    assert merged.keys() == base.keys()


@pytest.mark.parametrize("keys", [("genomics",), ("code",), ("audio", "clap")])
def test_typo_in_override_names_the_full_key_path(keys):
    with pytest.raises(InputError, match=r"config: " + r"\.".join(keys) + r"\.train: unknown key \('lrr'"):
        resolve_section(keys, None, '{"train": {"lrr": 1}}')


def test_override_that_is_not_json_is_one_clear_error():
    with pytest.raises(InputError, match="--hparams"):
        resolve_section(("code",), None, "{train: 1")
