# Helpers of the audio semi-supervised rules (workflows/audio_ssl.smk), included at its top. No rules live here.
import shlex

from domains.audio.settings import semisup_parts
from domains.audio.ssl_methods import PRETRAINED_METHODS, SSL_DATASETS


def audio_ssl_features(wildcards):
    """The features file an SSL data set is cut from (ESC-10 from the ESC-50 features)."""
    return f"results/audio/features/{SSL_DATASETS[wildcards.ssl_dataset]}.npz"


def audio_ssl_pretrains(dataset):
    """Whether the SSL data set's methods that use unlabelled clips start from an i-Mix pretrained trunk (its
    merged pretrain.steps > 0)."""
    return section_for(config, ("audio", "ssl"), dataset)["pretrain"]["steps"] > 0


def audio_ssl_trunk(wildcards):
    """The pretrained trunk an audio_ssl_train job starts from ({} when the method trains from scratch)."""
    if wildcards.ssl_method not in PRETRAINED_METHODS or not audio_ssl_pretrains(wildcards.ssl_dataset):
        return {}
    return {"trunk": f"results/audio/ssl/{wildcards.ssl_dataset}/pretrain/fold{wildcards.fold}_seed{wildcards.seed}/trunk.pt"}


def audio_ssl_trunk_arg(wildcards, input):
    """--trunk for audio_ssl_train when its input has a trunk (quoted for the shell)."""
    return f"--trunk {shlex.quote(input.trunk)}" if "trunk" in input.keys() else ""


def audio_ssl_runs(wildcards):
    """result.json of every configured method, test fold and seed of one SSL data set (imix_finetune only where the
    data set's pretrain.steps > 0)."""
    ssl = config["audio"]["ssl"]
    runs = ssl[wildcards.ssl_dataset]
    # imix_finetune is pretraining + supervised_10: without pretraining steps it would repeat supervised_10
    methods = [m for m in ssl["methods"] if m != "imix_finetune" or audio_ssl_pretrains(wildcards.ssl_dataset)]
    return expand(
        "results/audio/ssl/{ssl_dataset}/{ssl_method}/fold{fold}_seed{seed}/result.json",
        ssl_dataset=wildcards.ssl_dataset,
        ssl_method=methods,
        fold=runs["folds"],
        seed=runs["seeds"],
    )
