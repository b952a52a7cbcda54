"""Semi-supervised audio classification with mixup (supervised baselines, i-Mix pretraining, MixMatch, FixMatch
with and without mixup, self-training with mixup): training, evaluation, figures."""
