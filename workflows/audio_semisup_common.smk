# Helpers of the audio semi-supervised rules (workflows/audio_semisup.smk), included at its top. No rules live here.
import shlex

from domains.audio.settings import runs_key, semisup_parts
from domains.audio.semisup.methods import PRETRAINED_METHODS, features_dataset


def audio_semisup_features(wildcards):
    """The features file a semi-supervised data set is cut from (ESC-10 from the ESC-50 features; yours: its own)."""
    return f"results/audio/features/{features_dataset(wildcards.semisup_dataset)}.npz"


def audio_semisup_pretrains(dataset):
    """Whether the semi-supervised data set's methods that use unlabelled clips start from an i-Mix pretrained trunk (its
    merged pretrain.steps > 0)."""
    return section_for(config, ("audio", "semisup"), dataset)["pretrain"]["steps"] > 0


def audio_semisup_trunk(wildcards):
    """The pretrained trunk an audio_semisup_train job starts from ({} when the method trains from scratch)."""
    if wildcards.semisup_method not in PRETRAINED_METHODS or not audio_semisup_pretrains(wildcards.semisup_dataset):
        return {}
    return {"trunk": f"results/audio/semisup/{wildcards.semisup_dataset}/pretrain/fold{wildcards.fold}_seed{wildcards.seed}/trunk.pt"}


def audio_semisup_trunk_arg(wildcards, input):
    """--trunk for audio_semisup_train when its input has a trunk (quoted for the shell)."""
    return f"--trunk {shlex.quote(input.trunk)}" if "trunk" in input.keys() else ""


def audio_semisup_runs(wildcards):
    """result.json of every configured method, test fold and seed of one semi-supervised data set (imix_finetune only where the
    data set's pretrain.steps > 0)."""
    semisup = config["audio"]["semisup"]
    runs = semisup[runs_key(wildcards.semisup_dataset)]
    folds = runs["folds"]
    if folds is None:  # a user data set: every fold of its clip table
        folds = sorted(set(audio_user_table(wildcards.semisup_dataset)["fold"].tolist()))
    # imix_finetune is pretraining + supervised_10: without pretraining steps it would repeat supervised_10
    methods = [m for m in semisup["methods"] if m != "imix_finetune" or audio_semisup_pretrains(wildcards.semisup_dataset)]
    return expand(
        "results/audio/semisup/{semisup_dataset}/{semisup_method}/fold{fold}_seed{seed}/result.json",
        semisup_dataset=wildcards.semisup_dataset,
        semisup_method=methods,
        fold=folds,
        seed=runs["seeds"],
    )
