"""Genomics data: fetch (checksum-checked genomes), sample sheets, FASTA/GenBank reading, fragment preprocessing."""
