"""M3CoL (and the MOGONET baseline): models, training, per-seed evaluation, tables, figures, paper numbers."""
