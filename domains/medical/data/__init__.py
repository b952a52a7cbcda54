"""Medical multi-omics data: fetch (checksum-checked views), readers, dataset specs, preprocessing."""
