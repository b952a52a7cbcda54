"""Audio data: fetch (checksum-checked ESC-50 and FSDD clips) -> prepare (soundfile I/O, torchaudio log-mel
features), shared by the CLAP and the semi-supervised pipelines."""
