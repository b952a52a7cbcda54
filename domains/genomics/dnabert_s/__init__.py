"""DNABERT-S: tokenizer, weighted SimCLR / MI-Mix / C^2LR training, embedding (and the TNF baseline), evaluation,
figures."""
