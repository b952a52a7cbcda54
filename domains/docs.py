"""The result tables, verdicts and figures of the docs, generated from a workflow run: ``snakemake docs``.

    python -m domains.docs --results results --domains medical genomics code audio --figures '{"medical": [...]}' \
        --config "$(cat config.json)" --out docs/results --readmes README.md domains/medical/README.md ...

Writes, under ``--out``:

- ``<domain>.md``: the domain's verdicts (our method against the strongest simple baseline computed by us on the
  same splits, see :data:`COMPARISONS`), its ``results/<domain>/table.tsv`` as a markdown table and its figures
  (copied to ``<domain>/``); then each extra table given for the domain (``--extra``: a protocol with its own target,
  outside ``make run``, such as medical's re-split protocol) with its own verdicts;
- ``<domain>/provenance.json``: the domain's record: the commit (and whether the work tree had changes), the merged
  config, the sha256 of every result file read and every file written, and its headline row;
- ``headline.md``: one row per domain, its first comparison on its headline data set (the top-level README's
  table; every data set is on the domain's page);
- ``provenance.json``: every domain with pages, each one's commit and config hash (``runs``; the config itself is in
  its record), the sha256 of every result file read and every file written.

Docs for some domains only (``--domains code``) rewrite those domains' pages and leave the others' as an earlier
run wrote them, with that run's record; the headline keeps one row per domain with pages.

Each README holds the generated text between ``<!-- results:<name> -->`` and ``<!-- /results -->`` (``name`` a
domain or ``headline``); this command replaces what is between the markers, and ``tests/test_docs.py`` checks
that the READMEs equal the committed files, so no number in them is copied by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ssl_core.atomic import atomic_path
from ssl_core.config import parse_json_override
from ssl_core.errors import InputError, report_input_errors

__all__ = ["Comparison", "COMPARISONS", "render_table", "verdicts", "domain_page", "headline", "block_for",
           "fill_readme", "headline_row", "write_docs", "main"]

BLOCK = re.compile(r"(<!-- results:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)


@dataclass(frozen=True)
class Comparison:
    """Our method against the simple baselines computed by us on the same splits, on one metric.

    ``ours`` and ``baselines`` are values of the table's ``method`` column; ``value`` / ``std`` name the columns of
    the number and its spread (``std`` may be missing); ``group`` the column whose values each get their own
    comparison (a data set or benchmark); ``where`` filters rows first (long tables with a ``metric`` column).
    ``paired``: (baseline, difference column, better-count column) when the table gives our row's paired difference
    to that baseline on the same splits and seeds (its standard error in ``<difference column>_se``); when that
    baseline is the strongest one and the difference has a standard error, the difference decides the verdict
    (beyond two standard errors: beats or does not beat; else a tie).
    ``interval``: the table gives our row's paired bootstrap over queries (columns ``vs``, ``mrr_diff``,
    ``diff_low``, ``diff_high``, ``verdict``): the verdict against ``vs`` is that interval's (a win excludes zero).
    ``headline``: the group shown in the top-level README (default: the table's first); without ``group``, the
    data set named there.
    """

    metric: str
    ours: str
    baselines: tuple[str, ...]
    value: str
    std: str | None = None
    higher_is_better: bool = True
    group: str | None = None
    where: dict[str, str] = field(default_factory=dict)
    paired: tuple[str, str, str] | None = None
    interval: bool = False
    headline: str | None = None


def _audio(part: str, metric: str, ours: str, baselines: tuple[str, ...], higher: bool) -> Comparison:
    return Comparison(metric, ours, baselines, "value", "std", higher, "dataset", {"part": part, "metric": metric})


# The first comparison of each domain is its headline (README.md).
COMPARISONS: dict[str, list[Comparison]] = {
    "medical": [
        Comparison("accuracy", "M3CoL (ours)", ("logistic regression (ours)", "MOGONET (ours)"), "accuracy",
                   "accuracy_std", True, "dataset",
                   paired=("logistic regression (ours)", "accuracy_minus_logreg", "better_than_logreg")),
    ],
    "genomics": [
        Comparison(m, "DNABERT-S-style (C2LR, ours)", ("TNF (canonical 136-d)", "same encoder, random init"), m, s,
                   headline="held-out species")
        for m, s in (("ari_kmeans", "ari_kmeans_std"), ("ari_leiden", None), ("binning_count", None))
    ],
    # MiniLM fine-tuned with CoCoSoDa against what a user would try first (MiniLM zero-shot, BM25), then CoCoSoDa
    # from scratch against BM25; each with its paired bootstrap interval over queries.
    "code": [
        Comparison("mrr", "pretrained_cocosoda", ("pretrained", "bm25_split", "bm25"), "mrr", None, True,
                   "benchmark", interval=True, headline="heldout_packages"),
        Comparison("mrr", "cocosoda", ("bm25_split", "bm25", "untrained"), "mrr", None, True, "benchmark",
                   interval=True),
    ],
    "audio": [
        _audio("semisup", "error_rate", "self-training + mixup (ours)", ("supervised, 10 % labels (ours)",), False),
        _audio("semisup", "error_rate", "FixMatch + mixup (ours)", ("supervised, 10 % labels (ours)",), False),
        _audio("clap", "temporal_acc", "CLAP + stage B (ordered pairs)", ("CLAP plain contrastive", "chance"), True),
        _audio("clap", "zs_top1", "CLAP + stage B (ordered pairs)", ("CLAP plain contrastive", "chance"), True),
    ],
    # Metrix/feature against its clean loss and the untrained / TNF baselines, per data set (the CUB-200 lines
    # compare the paper's own numbers, source "paper" in the table).
    "metric": [
        Comparison("recall_at_1", f"{loss} + Metrix/feature", (loss, "untrained", "TNF"), "recall_at_1",
                   "recall_at_1_std", True, "dataset", paired=(loss, "r1_vs_clean", "seeds_better"))
        for loss in ("contrastive", "multi-similarity", "proxy anchor")
    ],
}


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _fmt(x: Any) -> str:
    v = _num(x)
    if v is None:
        return "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)
    return str(int(v)) if v.is_integer() and abs(v) >= 1 else f"{v:.3f}"


def render_table(table: pd.DataFrame) -> str:
    """Markdown of a results table; a column ``c`` with a ``c_std`` column beside it is shown as ``mean ± std``."""
    cols = [c for c in table.columns if not (c.endswith("_std") and c[:-4] in table.columns)
            and not (c == "std" and "value" in table.columns)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            std = f"{c}_std" if f"{c}_std" in table.columns else ("std" if c == "value" and "std" in table.columns
                                                                  else None)
            cell = _fmt(row[c])
            if std and _num(row[std]) is not None and cell:
                cell += f" ± {_fmt(row[std])}"
            cells.append(cell.replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _verdict(comp: Comparison, ours: tuple[float, float | None], base: tuple[float, float | None]) -> str:
    diff = ours[0] - base[0] if comp.higher_is_better else base[0] - ours[0]
    spread = max(s for s in (ours[1], base[1], 0.0) if s is not None)
    if spread > 0 and abs(diff) <= spread:
        return "ties (difference within one standard deviation)"
    return "beats it" if diff > 0 else ("equals it" if diff == 0 else "**does not beat it**")


def _paired_row(comp: Comparison, rows: pd.DataFrame) -> tuple[float, float | None, pd.Series] | None:
    """(mean, standard error or None, our row) of our row's paired difference (``comp.paired``), or None."""
    if comp.paired is None:
        return None
    diff = comp.paired[1]
    hit = rows[rows["method"] == comp.ours]
    if hit.empty or diff not in hit.columns or _num(hit.iloc[0][diff]) is None:
        return None
    row = hit.iloc[0]
    return _num(row[diff]), _num(row[f"{diff}_se"]) if f"{diff}_se" in hit.columns else None, row


def _paired_verdict(comp: Comparison, rows: pd.DataFrame, baseline: str) -> str | None:
    """The verdict from our row's paired difference when the strongest baseline is the paired one and the difference
    has a standard error: a paired difference is the sharper test (the spread between splits cancels out), so a
    difference beyond two standard errors decides, else a tie. ``None`` when there is no such difference."""
    paired = _paired_row(comp, rows) if comp.paired is not None and comp.paired[0] == baseline else None
    if paired is None or paired[1] is None or paired[1] <= 0:
        return None
    mean, se, _ = paired
    gain = mean if comp.higher_is_better else -mean
    if abs(gain) <= 2 * se:
        return "ties (paired difference within two standard errors)"
    return "beats it" if gain > 0 else "**does not beat it**"


def _comparisons(domain: str, table: pd.DataFrame) -> list[tuple[Comparison, str, dict[str, Any]]]:
    """(comparison, group value, facts) for every comparison and group the table holds our row for."""
    out = []
    if "source" in table.columns:  # a paper's own numbers are a reference, never ours nor a baseline we computed
        table = table[table["source"].astype(str) != "paper"]
    for comp in COMPARISONS.get(domain, []):
        rows = table
        for col, val in comp.where.items():
            rows = rows[rows[col].astype(str) == val] if col in rows.columns else rows.iloc[0:0]
        groups = list(dict.fromkeys(rows[comp.group])) if comp.group and comp.group in rows.columns else [None]
        for g in groups:
            sub = rows if g is None else rows[rows[comp.group] == g]

            def stat(method: str) -> tuple[float, float | None] | None:
                hit = sub[sub["method"] == method]
                if hit.empty or comp.value not in hit.columns or _num(hit.iloc[0][comp.value]) is None:
                    return None
                s = _num(hit.iloc[0][comp.std]) if comp.std and comp.std in hit.columns else None
                return _num(hit.iloc[0][comp.value]), s

            ours = stat(comp.ours)
            if ours is None:
                continue
            present = [(b, s) for b, s in ((b, stat(b)) for b in comp.baselines) if s is not None]
            if not present:
                out.append((comp, g, {"ours": ours, "baseline": None, "verdict": "no baseline row in the table"}))
                continue
            pick = max if comp.higher_is_better else min
            name, base = pick(present, key=lambda p: p[1][0])
            verdict = _paired_verdict(comp, sub, name) or _verdict(comp, ours, base)
            out.append((comp, g, {"ours": ours, "baseline_name": name, "baseline": base,
                                  "verdict": verdict + _paired(comp, sub)}))
    return out


def _interval(comp: Comparison, rows: pd.DataFrame) -> str:
    """``; paired bootstrap over queries against <vs>: <diff> [<low>, <high>], <verdict>`` from our row, or
    nothing."""
    hit = rows[rows["method"] == comp.ours]
    cols = ("vs", "mrr_diff", "diff_low", "diff_high", "verdict")
    if hit.empty or any(c not in hit.columns for c in cols) or _num(hit.iloc[0]["mrr_diff"]) is None:
        return ""
    r = hit.iloc[0]
    word = {"win": "a win", "loss": "**a loss**", "tie": "a tie (the interval holds zero)"}.get(str(r["verdict"]),
                                                                                              str(r["verdict"]))
    return (f"; against {r['vs']}, paired bootstrap over queries: {_num(r['mrr_diff']):+.3f} "
            f"(95 % interval {_num(r['diff_low']):+.3f} to {_num(r['diff_high']):+.3f}), {word}")


def _paired(comp: Comparison, rows: pd.DataFrame) -> str:
    """``; paired with <baseline>: <mean> ± <se>, better on k/n`` from our row's paired columns, or nothing."""
    if comp.interval:
        return _interval(comp, rows)
    paired = _paired_row(comp, rows)
    if paired is None:
        return ""
    mean, se, row = paired
    baseline, _, better = comp.paired
    spread = f" ± {_fmt(se)}" if se is not None else ""
    count = row[better]
    if _num(count) is not None:  # a count of seeds: "k/n" with the row's seed count
        n = _num(row["n_seeds"]) if "n_seeds" in row.index else None
        count = f"{int(_num(count))}/{int(n)}" if n is not None else str(int(_num(count)))
    return f"; paired with {baseline} on the same splits and seeds: {mean:+.3f}{spread}, better on {count}"


def _pm(stat: tuple[float, float | None]) -> str:
    return _fmt(stat[0]) + (f" ± {_fmt(stat[1])}" if stat[1] is not None else "")


def verdicts(domain: str, table: pd.DataFrame) -> list[str]:
    """One line per comparison and group: ours, the strongest baseline and whether ours beats it."""
    lines = []
    for comp, g, f in _comparisons(domain, table):
        where = f"{g}, " if g is not None else ""
        better = "higher" if comp.higher_is_better else "lower"
        if f["baseline"] is None:
            lines.append(f"- {where}{comp.metric} ({better} is better): {comp.ours} {_pm(f['ours'])}; {f['verdict']}")
            continue
        lines.append(f"- {where}{comp.metric} ({better} is better): {comp.ours} {_pm(f['ours'])} vs the strongest "
                     f"baseline, {f['baseline_name']} {_pm(f['baseline'])}: {f['verdict']}")
    return lines


HEADLINE_HEADER = ("| domain | data set | metric | ours | strongest simple baseline (ours, same splits) | verdict |\n"
                   "|---|---|---|---|---|---|\n")


def headline_row(domain: str, table: pd.DataFrame) -> str | None:
    """The domain's row of the top-level README's table: its first comparison on its headline group (the
    comparison's ``headline``, else the first group the table holds); None when the table has none."""
    first = COMPARISONS.get(domain, [None])[0]
    found = [(g, f) for comp, g, f in _comparisons(domain, table) if comp is first]
    if not found:
        return None
    g, f = next(((g, f) for g, f in found if g == first.headline), found[0])
    base = f"{f['baseline_name']} {_pm(f['baseline'])}" if f["baseline"] is not None else ""
    shown = g if g is not None else first.headline or ""
    return f"| {domain} | {shown} | {first.metric} | {first.ours} {_pm(f['ours'])} | {base} | {f['verdict']} |"


def _headline_table(rows: list[str | None]) -> str:
    """The top-level README's table from the domains' rows (``None``: a domain without one)."""
    return HEADLINE_HEADER + "".join(f"{r}\n" for r in rows if r is not None)


def headline(tables: dict[str, pd.DataFrame]) -> str:
    """The top-level README's table: one row per domain (:func:`headline_row`)."""
    return _headline_table([headline_row(domain, table) for domain, table in tables.items()])


def domain_page(domain: str, table: pd.DataFrame, figures: list[str],
                extra: list[tuple[str, str, pd.DataFrame]] = ()) -> str:
    """``<domain>.md``: verdicts, the table, the figures (paths relative to the page's folder), then each extra
    ``(path, title, table)`` with its own verdicts."""
    parts = ["Our method against the strongest simple baseline computed by us on the same splits:\n",
             "\n".join(verdicts(domain, table)) + "\n", f"\n`results/{domain}/table.tsv`:\n\n", render_table(table)]
    if figures:
        parts.append("\n" + "\n".join(f"![{Path(f).stem}]({domain}/{Path(f).name})" for f in figures) + "\n")
    for path, title, extra_table in extra:
        parts += [f"\n**{title}** (`{path}`):\n\n", "\n".join(verdicts(domain, extra_table)) + "\n\n",
                  render_table(extra_table)]
    return "".join(parts)


def block_for(page: Path, readme: Path) -> str:
    """A generated page as it stands in a README: its relative links rewritten for the README's folder."""
    text = page.read_text()

    def relink(m: re.Match[str]) -> str:
        target = m.group(2)
        if re.match(r"[a-z]+:", target) or target.startswith("/"):
            return m.group(0)
        rel = os.path.relpath(page.parent / target, readme.parent)
        return f"{m.group(1)}({Path(rel).as_posix()})"

    return re.sub(r"(!?\[[^\]]*\])\(([^)]+)\)", relink, text)


def fill_readme(readme: Path, pages: Path) -> str:
    """``readme``'s text with every results block replaced by the page of the same name under ``pages``."""
    text = readme.read_text()
    names = [m.group("name") for m in BLOCK.finditer(text)]
    missing = [n for n in names if not (pages / f"{n}.md").is_file()]
    if missing:
        raise InputError(f"{readme}: results block(s) {', '.join(missing)} have no page under {pages}")
    return BLOCK.sub(lambda m: m.group(1) + block_for(pages / f"{m.group('name')}.md", readme) + m.group(4), text)


def _sha256(path: Path) -> str:
    # not ssl_core.training.file_checksum: that module loads torch, which the report env has not
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _domain_order(domains: set[str]) -> list[str]:
    """The domains in the order of :data:`COMPARISONS` (the README's order), any other after them by name."""
    return [d for d in COMPARISONS if d in domains] + sorted(domains - set(COMPARISONS))


def _kept_domains(out: Path, run: list[str]) -> dict[str, dict[str, Any]]:
    """The record (``<domain>/provenance.json``) of each domain an earlier run wrote pages for and this run does
    not write again; its pages stay as that run wrote them."""
    kept = {}
    for path in sorted(out.glob("*/provenance.json")):
        domain = path.parent.name
        if domain in run or not (out / f"{domain}.md").is_file():
            continue
        try:
            kept[domain] = json.loads(path.read_text())
        except ValueError as err:
            raise InputError(f"{path}: not JSON ({err}); delete {out / domain} and {out / domain}.md or rerun "
                             f"docs with {domain} in domains") from None
    return kept


def write_docs(results: Path, domains: list[str], figures: dict[str, list[str]], config: dict[str, Any],
               out: Path, extra: dict[str, list[list[str]]] | None = None) -> dict[str, Any]:
    """Write the pages of ``domains`` (each with its figures and its own record, ``<domain>/provenance.json``),
    ``headline.md`` and ``provenance.json``; returns the provenance. The pages of a domain an earlier run wrote and
    this one does not name stay, with that run's record: docs for one domain leave the others as they were.
    ``extra``: domain -> ``[path, title]`` of each further table shown on its page (a missing one is an error)."""
    # before writing anything; the pages' own folder does not count (Snakemake removes provenance.json first)
    inside = out.resolve().is_relative_to(Path.cwd().resolve())
    status = _git("status", "--porcelain", *(["--", ".", f":(exclude){out}"] if inside else []))
    commit, changes = _git("rev-parse", "HEAD"), status != ""
    config_sha = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    tables, read = {}, {}

    def read_table(domain: str, path: Path, why: str) -> pd.DataFrame:
        if not path.is_file():
            raise InputError(f"{path}: missing ({why})")
        read.setdefault(domain, {})[str(path)] = _sha256(path)
        return pd.read_csv(path, sep="\t")

    for domain in domains:
        tables[domain] = read_table(domain, results / domain / "table.tsv",
                                    "run the workflow first: snakemake docs runs it")
    extras = {}
    for domain, items in (extra or {}).items():
        why = f"the extra table of {domain} named by --extra"
        extras[domain] = [(path, title, read_table(domain, Path(path), why)) for path, title in items]
    for domain in domains:
        for f in figures.get(domain, []):
            if not Path(f).is_file():
                raise InputError(f"{f}: figure missing")
    out.mkdir(parents=True, exist_ok=True)
    records = _kept_domains(out, domains)
    for domain in domains:
        figs = figures.get(domain, [])
        if (out / domain).exists():
            shutil.rmtree(out / domain)
        (out / domain).mkdir()
        written = {}
        for f in figs:
            src = Path(f)
            shutil.copyfile(src, out / domain / src.name)
            read[domain][str(src)] = written[f"{domain}/{src.name}"] = _sha256(src)
        with atomic_path(out / f"{domain}.md") as tmp:
            tmp.write_text(domain_page(domain, tables[domain], figs, extras.get(domain, [])))
        written[f"{domain}.md"] = _sha256(out / f"{domain}.md")
        records[domain] = {"commit": commit, "work_tree_changes": changes, "config_sha256": config_sha,
                           "config": config, "results_read": read[domain], "files_written": written,
                           "headline": headline_row(domain, tables[domain])}
        with atomic_path(out / domain / "provenance.json") as tmp:
            tmp.write_text(json.dumps(records[domain], indent=1, sort_keys=True) + "\n")
    order = _domain_order(set(records))
    with atomic_path(out / "headline.md") as tmp:
        tmp.write_text(_headline_table([records[d].get("headline") for d in order]))
    written = {"headline.md": _sha256(out / "headline.md")}
    for d in order:
        written.update(records[d]["files_written"])
        written[f"{d}/provenance.json"] = _sha256(out / d / "provenance.json")
    provenance = {"commit": commit, "work_tree_changes": changes, "domains": order, "run": domains,
                  "runs": {d: {k: records[d][k] for k in ("commit", "work_tree_changes", "config_sha256")}
                           for d in order},
                  "results_read": {p: h for d in order for p, h in records[d]["results_read"].items()},
                  "files_written": written}
    with atomic_path(out / "provenance.json") as tmp:
        tmp.write_text(json.dumps(provenance, indent=1, sort_keys=True) + "\n")
    return provenance


@report_input_errors
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m domains.docs", description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--domains", nargs="+", required=True)
    p.add_argument("--figures", required=True, help="JSON object: domain -> list of its figure files")
    p.add_argument("--extra", default="{}",
                   help="JSON object: domain -> list of [table file, title] shown on its page after its own table")
    p.add_argument("--config", required=True, help="JSON object: the merged config of the run (for provenance)")
    p.add_argument("--out", type=Path, default=Path("docs/results"))
    p.add_argument("--readmes", type=Path, nargs="*", default=[], help="READMEs whose results blocks to fill")
    args = p.parse_args(argv)
    figures, config = parse_json_override(args.figures, "--figures"), parse_json_override(args.config, "--config")
    extra = parse_json_override(args.extra, "--extra")
    write_docs(args.results, args.domains, figures, config, args.out, extra)
    for readme in args.readmes:
        text = fill_readme(readme, args.out)
        with atomic_path(readme) as tmp:
            tmp.write_text(text)
        print(f"filled {readme}")


if __name__ == "__main__":
    main()
