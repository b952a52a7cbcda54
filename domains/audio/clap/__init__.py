"""CLAP with TeminAL temporal instillation: caption table, two-stage training, zero-shot evaluation, report."""
