"""One command line for every stage of every domain: ``ssl-workflows <domain> <stage> [options]``.

It runs the same code the workflow's rules call (``python -m domains.<domain>.<module>``), with the same options;
``ssl-workflows <domain> <stage> --help`` lists them. The rules keep calling the stage modules, which work without
the project installed. Installed by ``make install`` (``pip install -e .``) as ``.venv/bin/ssl-workflows``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["STAGES", "main"]

# domain -> stage -> module whose main(argv) is the stage's command line
STAGES: dict[str, dict[str, str]] = {
    "medical": {
        "fetch": "domains.medical.data.fetch",
        "prepare": "domains.medical.data.prepare",
        "train": "domains.medical.m3col.train",
        "evaluate": "domains.medical.m3col.evaluate",
        "select": "domains.medical.m3col.select",
        "table": "domains.medical.m3col.table",
        "figures": "domains.medical.m3col.figures",
    },
    "genomics": {
        "fetch": "domains.genomics.data.fetch",
        "preprocess": "domains.genomics.data.preprocess",
        "tokenize": "domains.genomics.dnabert_s.tokenize",
        "train": "domains.genomics.dnabert_s.train",
        "embed": "domains.genomics.dnabert_s.embed",
        "evaluate": "domains.genomics.dnabert_s.evaluate",
        "figures": "domains.genomics.dnabert_s.figures",
    },
    "code": {
        "fetch": "domains.code.data.fetch",
        "corpus": "domains.code.data.corpus",
        "tokenizer": "domains.code.cocosoda.tokenizer",
        "train": "domains.code.cocosoda.train",
        "dev": "domains.code.cocosoda.dev",
        "evaluate": "domains.code.cocosoda.evaluate",
        "table": "domains.code.cocosoda.table",
        "figures": "domains.code.cocosoda.figures",
    },
    "audio": {
        "fetch": "domains.audio.data.fetch",
        "prepare": "domains.audio.data.prepare",
        "table": "domains.audio.table",
        "semisup-pretrain": "domains.audio.semisup.pretrain",
        "semisup-train": "domains.audio.semisup.train",
        "semisup-evaluate": "domains.audio.semisup.evaluate",
        "semisup-figures": "domains.audio.semisup.figures",
        "semisup-dev": "domains.audio.semisup.dev",
        "clap-captions": "domains.audio.clap.text",
        "clap-train": "domains.audio.clap.train",
        "clap-evaluate": "domains.audio.clap.zeroshot",
        "clap-report": "domains.audio.clap.report",
    },
    "metric": {
        "data": "domains.metric.data.build",
        "train": "domains.metric.metrix.train",
        "evaluate": "domains.metric.metrix.evaluate",
        "table": "domains.metric.metrix.table",
        "figures": "domains.metric.metrix.figures",
        "tune": "domains.metric.metrix.tune",
    },
}


def _parser() -> argparse.ArgumentParser:
    lines = [f"  {domain:<9} {', '.join(stages)}" for domain, stages in STAGES.items()]
    return argparse.ArgumentParser(
        prog="ssl-workflows", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0],
        epilog="domains and their stages:\n" + "\n".join(lines)
        + "\n\nexample: ssl-workflows medical train --help")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        raise SystemExit(0 if argv else 2)
    domain = argv[0]
    if domain not in STAGES:
        parser.error(f"unknown domain {domain!r}; one of {', '.join(STAGES)}")
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(f"usage: ssl-workflows {domain} <stage> [options]\nstages: {', '.join(STAGES[domain])}")
        raise SystemExit(0 if len(argv) > 1 else 2)
    stage = argv[1]
    if stage not in STAGES[domain]:
        parser.error(f"unknown {domain} stage {stage!r}; one of {', '.join(STAGES[domain])}")
    module = importlib.import_module(STAGES[domain][stage])
    sys.argv[0] = f"ssl-workflows {domain} {stage}"
    module.main(argv[2:])


if __name__ == "__main__":
    main()
