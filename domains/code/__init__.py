"""CoCoSoDa code search (Shi et al., ICSE 2023): corpus from real Python code, BPE, momentum-contrastive training
with soft data augmentation, MRR against BM25 on held-out and external benchmarks."""
