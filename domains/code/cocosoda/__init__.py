"""CoCoSoDa: tokenizer, soft data augmentation, momentum-contrastive training, MRR evaluation, table, figures."""
