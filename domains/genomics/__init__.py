"""DNABERT-S species-aware DNA embeddings (weighted SimCLR, MI-Mix, C^2LR curriculum) on real bacterial genomes.

Stages, each a command line (``python -m domains.genomics.<stage>``): fetch -> preprocess -> tokenize -> train ->
embed -> evaluate -> figures. See docs in each module and ``report/genomics_*.rst``.
"""
