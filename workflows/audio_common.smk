# Helpers of the audio data-layer rules (workflows/audio.smk), included at its top. No rules live here.

# Metric JSONs with a `table_rows` list (domains/audio/table.py) and figures, appended by each audio part's rules.
AUDIO_TABLE_METRICS = []
AUDIO_FIGURES = []


def audio_table_metrics(wildcards):
    """Every audio part's metric JSONs (evaluated after all rule files are read)."""
    return AUDIO_TABLE_METRICS
