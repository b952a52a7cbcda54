"""Code-search data: fetch (pinned source archives), corpus (function/docstring pairs), lexer, benchmarks."""
