# Helpers of the audio CLAP + TeminAL rules (workflows/audio_clap.smk), included at its top. No rules live here.
import shlex

from domains.audio.settings import CLAP_PARTS


AUDIO_CLAP_STAGES = ["plain", "stageA", "stageB"]  # curriculum order: each stage starts from the previous one


def audio_clap_source(wildcards):
    """The metadata of the CLAP data set (audio.clap.dataset): ESC-50's meta.csv, or a user's clip table and its
    clips (workflows/audio_common.smk)."""
    source = audio_source(config["audio"]["clap"]["dataset"])
    source.pop("status", None)
    return source


def audio_clap_previous(wildcards):
    """The previous stage's model (stage A starts from plain, stage B from stage A); none for plain."""
    i = AUDIO_CLAP_STAGES.index(wildcards.stage)
    return [f"results/audio/clap/{AUDIO_CLAP_STAGES[i - 1]}/model.pt"] if i > 0 else []


def audio_clap_init_arg(wildcards, input):
    """``--init <previous model.pt>`` for stages A and B, nothing for the plain stage."""
    return f"--init {shlex.quote(input.init[0])}" if input.init else ""
