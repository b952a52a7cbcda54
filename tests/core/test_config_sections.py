"""resolve_section: the one way every stage reads its config section and its --hparams override."""

from __future__ import annotations

import pytest

from ssl_core.config import resolve_section
from ssl_core.errors import InputError
from tests.conftest import REPO


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


def test_a_renamed_key_names_its_new_name(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("audio:\n  ssl:\n    datasets: [fsdd]\n")
    with pytest.raises(InputError, match=r"config: audio: renamed key: 'ssl' is now 'semisup'"):
        resolve_section(("audio", "clap"), [old], None)


def test_override_that_is_not_json_is_one_clear_error():
    with pytest.raises(InputError, match="--hparams"):
        resolve_section(("code",), None, "{train: 1")


def test_parts_keep_only_what_a_stage_reads():
    from ssl_core.config import load_config, section_for, select_parts

    config = load_config([REPO / "config" / "config.yaml"])
    parts = section_for(config, ("medical",), "BRCA", ("val_fraction", "train.lr", "model"))
    assert parts == {"val_fraction": config["medical"]["val_fraction"], "train": {"lr": 0.005},  # BRCA's override
                     "model": config["medical"]["model"]}
    resolved = resolve_section(("medical",), None, '{"train": {"lr": 0.01}}', "BRCA", ("train.lr",))
    assert resolved == {"train": {"lr": 0.01}}
    with pytest.raises(KeyError):
        select_parts({"train": {}}, ("train.lr",))  # a stage reading a key it did not declare fails at once


def test_every_domain_names_existing_parts():
    from domains.audio.settings import CLAP_PARTS, semisup_parts
    from domains.code.settings import STAGE_PARTS as CODE
    from domains.genomics.settings import STAGE_PARTS as GENOMICS
    from domains.medical.settings import STAGE_PARTS as MEDICAL
    from ssl_core.config import load_config, section_for

    config = load_config([REPO / "config" / "config.yaml"])
    for keys, table in ((("code",), CODE), (("genomics",), GENOMICS), (("medical",), MEDICAL),
                        (("audio", "clap"), CLAP_PARTS)):
        for parts in table.values():
            section_for(config, keys, "ROSMAP" if keys == ("medical",) else None, parts)
    for ds in ("esc10", "fsdd"):
        for stage in ("pretrain", "train"):
            section_for(config, ("audio", "semisup"), ds, semisup_parts(stage, ds))


def test_a_section_key_the_user_sets_beats_the_shipped_per_data_set_value(tmp_path):
    """Shipped: medical.train.epochs 300, ROSMAP's override 150. A user file that sets train.epochs applies it to
    ROSMAP too; one that also sets ROSMAP's override keeps that; an untouched section keeps the shipped override."""
    from ssl_core.config import load_config, section_for

    shipped = load_config([REPO / "config" / "config.yaml"])
    assert section_for(shipped, ("medical",), "ROSMAP")["train"]["epochs"] == 150  # the committed choice
    assert section_for(shipped, ("medical",), "BRCA")["train"]["lr"] == 0.005

    user = tmp_path / "user.yaml"
    user.write_text("medical:\n  train: {epochs: 40, lr: 0.001}\n")
    config = load_config([REPO / "config" / "config.yaml", user])
    for dataset in ("ROSMAP", "TCGA-BRCA", "BRCA"):
        assert section_for(config, ("medical",), dataset)["train"]["epochs"] == 40
    assert section_for(config, ("medical",), "BRCA")["train"]["lr"] == 0.001
    assert section_for(config, ("medical",), "TCGA-BRCA")["m3co"]["weight"] == 1.0  # a key the user left alone

    user.write_text("medical:\n  train: {epochs: 40}\n  dataset_overrides: {ROSMAP: {train: {epochs: 7}}}\n")
    config = load_config([REPO / "config" / "config.yaml", user])
    assert section_for(config, ("medical",), "ROSMAP")["train"]["epochs"] == 7
    assert section_for(config, ("medical",), "TCGA-BRCA")["train"]["epochs"] == 40

    # the workflow's path: Snakemake's merged config given as overrides of the shipped file
    merged = load_config([REPO / "config" / "config.yaml"], overrides={"medical": {"train": {"epochs": 40}}})
    assert section_for(merged, ("medical",), "ROSMAP")["train"]["epochs"] == 40
    # a key set to its shipped value cannot be told from the default: the per-data-set value stays
    same = load_config([REPO / "config" / "config.yaml"], overrides={"medical": {"train": {"epochs": 300}}})
    assert section_for(same, ("medical",), "ROSMAP")["train"]["epochs"] == 150
