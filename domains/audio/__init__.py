"""Audio: ESC-50 / ESC-10 and the Free Spoken Digit Dataset.

Shared data layer (``fetch`` -> ``prepare``: checksum-checked clips, soundfile I/O, torchaudio log-mel features)
used by two pipelines: CLAP + TeminAL + zero-shot, and semi-supervised classification (MixMatch, FixMatch with
and without mixup) on log-mel features. Every stage is a command line (``python -m domains.audio.<stage>``).
"""
