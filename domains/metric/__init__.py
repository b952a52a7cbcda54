"""Deep metric learning on class-disjoint splits of the project's data (ESC-50 classes, held-out genomic species)
with the clean losses and Metrix (``ssl_core.losses.metrix``)."""
