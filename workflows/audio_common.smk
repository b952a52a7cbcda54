# Helpers of the audio data-layer rules (workflows/audio.smk), included at its top. No rules live here.
# The audio targets are declared here, from the config alone, so that they do not depend on which rule file is
# read first: each part's metric JSON (with its `table_rows`, joined by domains/audio/table.py) and figures.

AUDIO_CLAP_FIGURES = [
    "results/audio/clap/figures/zeroshot_confusion.png",
    "results/audio/clap/figures/temporal_per_stage.png",
]
AUDIO_CLAP_METRICS = ["results/audio/clap/metrics.json"] if config["audio"]["clap"]["enabled"] else []
AUDIO_SEMISUP_METRICS = [
    f"results/audio/semisup/{dataset}/metrics.json" for dataset in config["audio"]["semisup"]["datasets"]
]
AUDIO_SEMISUP_FIGURES = ["results/audio/figures/semisup_error_rates.png"] if AUDIO_SEMISUP_METRICS else []
AUDIO_TABLE_METRICS = AUDIO_CLAP_METRICS + AUDIO_SEMISUP_METRICS
AUDIO_FIGURES = (AUDIO_CLAP_FIGURES if AUDIO_CLAP_METRICS else []) + AUDIO_SEMISUP_FIGURES
