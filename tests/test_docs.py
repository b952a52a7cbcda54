"""The docs: README results blocks equal the generated pages, the pages are what provenance.json records, no
result number is written by hand, every domain README has the same sections, and the generator's verdicts."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from domains.docs import BLOCK, COMPARISONS, fill_readme, headline, main, render_table, verdicts
from tests.conftest import REPO

PAGES = REPO / "docs" / "results"
DOMAIN_READMES = sorted(REPO.glob("domains/*/README.md"))
READMES = [REPO / "README.md", *DOMAIN_READMES]
SECTIONS = ["Method", "Stages", "Run", "Config", "Results", "Decisions", "Speed"]
# a measured number: a decimal outside code spans (config values live in backticks or in the Config section)
DECIMAL = re.compile(r"(?<![\w.`])\d+\.\d+(?![\w.])")


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _prose(text: str) -> str:
    """Text outside results blocks, fenced code and inline code."""
    text = BLOCK.sub("", text)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`]*`", "", text)


def test_every_domain_has_a_readme_with_the_same_sections():
    domains = sorted(p.name for p in (REPO / "domains").iterdir() if (p / "settings.py").is_file())
    assert [p.parent.name for p in DOMAIN_READMES] == domains
    for readme in DOMAIN_READMES:
        headings = re.findall(r"^## (.+)$", readme.read_text(), flags=re.M)
        assert headings == SECTIONS, f"{readme.relative_to(REPO)}: sections {headings}"


def test_readme_is_a_short_index():
    assert len((REPO / "README.md").read_text().splitlines()) <= 120


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(REPO)))
def test_results_blocks_equal_the_generated_pages(readme):
    text = readme.read_text()
    names = [m.group("name") for m in BLOCK.finditer(text)]
    expected = ["headline"] if readme == REPO / "README.md" else [readme.parent.name]
    assert names == expected, f"{readme.relative_to(REPO)}: results blocks {names}, expected {expected}"
    if not (PAGES / "provenance.json").is_file():  # no pages generated yet: the blocks hold nothing by hand either
        assert all(not m.group("body").strip() for m in BLOCK.finditer(text)), f"{readme.relative_to(REPO)}"
        return
    domains = json.loads((PAGES / "provenance.json").read_text())["domains"]
    if readme != REPO / "README.md" and readme.parent.name not in domains:  # docs made for other domains only
        assert all(not m.group("body").strip() for m in BLOCK.finditer(text)), f"{readme.relative_to(REPO)}"
        return
    assert fill_readme(readme, PAGES) == text, f"{readme.relative_to(REPO)} differs from docs/results: run make docs"


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_result_number_outside_the_generated_blocks(readme):
    sections = _sections(readme.read_text())
    checked = {k: v for k, v in sections.items() if k in ("Results", "Decisions", "Speed")}
    if readme == REPO / "README.md":
        checked = {"(whole file)": readme.read_text()}
    for name, body in checked.items():
        hits = DECIMAL.findall(_prose(body))
        assert not hits, f"{readme.relative_to(REPO)} {name}: hand-written numbers {hits[:5]}"


def test_pages_are_those_provenance_records():
    if not PAGES.exists():
        return  # nothing generated yet (see test_results_blocks_equal_the_generated_pages)
    prov = json.loads((PAGES / "provenance.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", prov["commit"])
    assert set(prov["run"]) <= set(prov["domains"]) == set(prov["runs"])
    written = {p.relative_to(PAGES).as_posix() for p in PAGES.rglob("*") if p.is_file()} - {"provenance.json"}
    assert written == set(prov["files_written"])
    for name, digest in prov["files_written"].items():
        assert hashlib.sha256((PAGES / name).read_bytes()).hexdigest() == digest, f"{name} edited by hand"
    assert set(prov["domains"]) <= set(COMPARISONS)
    rows = (PAGES / "headline.md").read_text().splitlines()[2:]
    for domain in prov["domains"]:  # each domain's record: the run that wrote its pages
        record = json.loads((PAGES / domain / "provenance.json").read_text())
        assert re.fullmatch(r"[0-9a-f]{40}", record["commit"]) and record["commit"] == prov["runs"][domain]["commit"]
        assert domain in record["config"]["domains"]
        assert record["files_written"].items() <= prov["files_written"].items()
        assert record["headline"] in rows
    assert len(rows) == len(prov["domains"])


def _table(ours: float, base: float, std: float | None = None) -> pd.DataFrame:
    return pd.DataFrame([
        {"dataset": "X", "method": "M3CoL (ours)", "accuracy": ours, "accuracy_std": std, "source": "a"},
        {"dataset": "X", "method": "MOGONET (ours)", "accuracy": base, "accuracy_std": std, "source": "b"},
        {"dataset": "X", "method": "M3CoL (paper)", "accuracy": 0.99, "accuracy_std": None, "source": "paper"},
    ])


def test_verdicts_say_plainly_when_ours_does_not_beat_the_baseline():
    assert verdicts("medical", _table(0.8, 0.7))[0].endswith(": beats it")
    assert verdicts("medical", _table(0.6, 0.7))[0].endswith("**does not beat it**")
    assert "ties" in verdicts("medical", _table(0.72, 0.7, std=0.05))[0]
    # the paper's row is not a baseline we computed: never compared against
    assert "paper" not in verdicts("medical", _table(0.8, 0.7))[0]
    # lower is better for error rates: a lower error beats
    audio = pd.DataFrame([
        {"part": "semisup", "dataset": "fsdd", "method": "self-training + mixup (ours)", "metric": "error_rate",
         "value": 0.05, "std": 0.001},
        {"part": "semisup", "dataset": "fsdd", "method": "supervised, 10 % labels (ours)", "metric": "error_rate",
         "value": 0.08, "std": 0.001}])
    assert verdicts("audio", audio)[0].endswith(": beats it")


def test_table_shows_mean_and_std_and_headline_takes_each_domains_first_comparison():
    md = render_table(_table(0.8, 0.7, std=0.05))
    assert "| 0.800 ± 0.050 |" in md and "accuracy_std" not in md
    lines = headline({"medical": _table(0.8, 0.7)}).splitlines()
    assert len(lines) == 3 and lines[2].startswith("| medical | X | accuracy | M3CoL (ours) 0.800 |")
    # one row per domain: the first data set, or the comparison's headline one (code: the package-disjoint split)
    two = pd.concat([_table(0.8, 0.7), _table(0.6, 0.7).assign(dataset="Y")])
    assert headline({"medical": two}).splitlines()[2:] == headline({"medical": _table(0.8, 0.7)}).splitlines()[2:]
    code = pd.DataFrame([{"benchmark": b, "method": m, "mrr": v} for b in ("corpus_test", "heldout_packages")
                         for m, v in (("pretrained_cocosoda", 0.6), ("pretrained", 0.5))])
    rows = headline({"code": code}).splitlines()[2:]
    assert len(rows) == 1 and rows[0].startswith("| code | heldout_packages | mrr | pretrained_cocosoda 0.600 |")
    # a table without a data-set column (genomics) names its data set from the comparison
    genomics = pd.DataFrame([{"method": "DNABERT-S-style (C2LR, ours)", "ari_kmeans": 0.7, "ari_kmeans_std": 0.01},
                             {"method": "TNF (canonical 136-d)", "ari_kmeans": 0.6, "ari_kmeans_std": 0.01}])
    assert headline({"genomics": genomics}).splitlines()[2].startswith("| genomics | held-out species | ari_kmeans |")


def test_command_writes_pages_provenance_and_fills_blocks(tmp_path, capsys):
    results = tmp_path / "results" / "medical"
    results.mkdir(parents=True)
    _table(0.8, 0.7).to_csv(results / "table.tsv", sep="\t", index=False)
    fig = results / "figure.png"
    fig.write_bytes(b"\x89PNG fake")
    readme = tmp_path / "domains" / "medical" / "README.md"
    readme.parent.mkdir(parents=True)
    readme.write_text("# m\n\n## Results\n<!-- results:medical -->\nold 0.1\n<!-- /results -->\ntext\n")
    out = tmp_path / "docs" / "results"
    main(["--results", str(tmp_path / "results"), "--domains", "medical", "--figures",
          json.dumps({"medical": [str(fig)]}), "--config", json.dumps({"domains": ["medical"]}), "--out", str(out),
          "--readmes", str(readme)])
    text = readme.read_text()
    assert "old 0.1" not in text and ": beats it" in text and text.endswith("<!-- /results -->\ntext\n")
    assert "![figure](../../docs/results/medical/figure.png)" in text
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov["files_written"]) == {"medical.md", "medical/figure.png", "medical/provenance.json",
                                          "headline.md"}
    assert prov["results_read"][str(results / "table.tsv")] == hashlib.sha256(
        (results / "table.tsv").read_bytes()).hexdigest()
    assert fill_readme(readme, out) == text  # filling again changes nothing
    # a later run for another domain only (as Snakemake runs it: provenance.json, its output, removed first):
    # the medical pages stay as the first run wrote them, with its record; the headline has both domains
    medical_page, medical_record = (out / "medical.md").read_text(), (out / "medical" / "provenance.json").read_text()
    (out / "notes.txt").write_text("mine")
    (out / "provenance.json").unlink()
    code = tmp_path / "results" / "code"
    code.mkdir()
    rows = (("pretrained_cocosoda", 0.5), ("pretrained", 0.6))
    pd.DataFrame([{"benchmark": "b", "method": m, "mrr": v} for m, v in rows]).to_csv(code / "table.tsv", sep="\t",
                                                                                    index=False)
    _table(0.6, 0.7).to_csv(results / "table.tsv", sep="\t", index=False)  # not read: medical is not run
    main(["--results", str(tmp_path / "results"), "--domains", "code", "--figures", "{}", "--config",
          json.dumps({"domains": ["code"]}), "--out", str(out)])
    assert (out / "medical.md").read_text() == medical_page
    assert (out / "medical" / "provenance.json").read_text() == medical_record
    assert (out / "code.md").is_file() and (out / "notes.txt").read_text() == "mine"
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["domains"] == ["medical", "code"] and prov["run"] == ["code"]
    assert set(prov["files_written"]) == {"medical.md", "medical/figure.png", "medical/provenance.json",
                                          "code.md", "code/provenance.json", "headline.md"}
    rows = (out / "headline.md").read_text().splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| medical", "| code"]
    assert rows[0].endswith("| beats it |") and "**does not beat it**" in rows[1]
    # medical run again: its page and its headline row follow its new table
    main(["--results", str(tmp_path / "results"), "--domains", "medical", "--figures", "{}", "--config",
          json.dumps({"domains": ["medical"]}), "--out", str(out)])
    rows = (out / "headline.md").read_text().splitlines()[2:]
    assert "**does not beat it**" in rows[0] and (out / "medical.md").read_text() != medical_page
    assert not (out / "medical" / "figure.png").exists()  # a figure the new run does not name is gone
    # a broken record of a kept domain: one error naming it, nothing written
    (out / "code" / "provenance.json").write_text("{")
    before = (out / "headline.md").read_text()
    with pytest.raises(SystemExit):
        main(["--results", str(tmp_path / "results"), "--domains", "medical", "--figures", "{}", "--config",
              "{}", "--out", str(out)])
    assert f"{out / 'code' / 'provenance.json'}: not JSON" in capsys.readouterr().err
    assert (out / "headline.md").read_text() == before


def test_a_paired_difference_with_a_standard_error_decides_against_its_own_baseline():
    def table(diff: float, se: float, base: str = "logistic regression (ours)") -> pd.DataFrame:
        return pd.DataFrame([
            {"dataset": "X", "method": "M3CoL (ours)", "accuracy": 0.75, "accuracy_std": 0.03,
             "accuracy_minus_logreg": diff, "accuracy_minus_logreg_se": se, "better_than_logreg": "1/10"},
            {"dataset": "X", "method": base, "accuracy": 0.77, "accuracy_std": 0.03}])
    # within one standard deviation of each other, but the paired difference is far below zero
    assert ": **does not beat it**; paired with" in verdicts("medical", table(-0.027, 0.007))[0]
    assert ": beats it; paired with" in verdicts("medical", table(0.027, 0.007))[0]
    assert "ties (paired difference within two standard errors)" in verdicts("medical", table(-0.01, 0.007))[0]
    # another baseline is the strongest: the paired difference does not decide against it
    assert "ties (difference within one standard deviation)" in verdicts("medical", table(-0.027, 0.007,
                                                                                         "MOGONET (ours)"))[0]


def test_extra_tables_get_their_own_verdicts_on_the_domain_page_and_a_missing_one_is_an_error(tmp_path, capsys):
    results = tmp_path / "results" / "medical"
    (results / "resplit").mkdir(parents=True)
    _table(0.8, 0.7).to_csv(results / "table.tsv", sep="\t", index=False)
    resplit = results / "resplit" / "table.tsv"
    _table(0.6, 0.7).to_csv(resplit, sep="\t", index=False)
    out = tmp_path / "docs"
    args = ["--results", str(tmp_path / "results"), "--domains", "medical", "--figures", "{}", "--config", "{}",
            "--out", str(out)]
    main([*args, "--extra", json.dumps({"medical": [[str(resplit), "Re-split protocol"]]})])
    page = (out / "medical.md").read_text()
    main_part, extra_part = page.split("**Re-split protocol**")
    # each table has its own verdict: the fixed split beats the baseline, the re-splits do not
    assert ": beats it" in main_part and "does not beat" not in main_part
    assert "**does not beat it**" in extra_part and "| 0.600 |" in extra_part
    prov = json.loads((out / "provenance.json").read_text())
    assert str(resplit) in prov["results_read"]
    # the headline stays the domain's own table
    assert "| beats it |" in (out / "headline.md").read_text()
    resplit.unlink()
    with pytest.raises(SystemExit):
        main([*args, "--extra", json.dumps({"medical": [[str(resplit), "Re-split protocol"]]})])
    assert f"{resplit}: missing" in capsys.readouterr().err
    assert (out / "medical.md").read_text() == page  # nothing half-written


def test_every_domain_has_the_same_layout():
    """data/ plus one folder per pipeline, settings.py, and a rule file with its helpers beside it."""
    for d in sorted(p for p in (REPO / "domains").iterdir() if (p / "settings.py").is_file()):
        parts = sorted(p.name for p in d.iterdir() if (p / "__init__.py").is_file())
        assert "data" in parts and len(parts) >= 2, f"{d.name}: packages {parts}"
        flat = sorted(p.name for p in d.glob("*.py") if p.name not in ("__init__.py", "settings.py", "table.py"))
        assert not flat, f"{d.name}: modules outside a pipeline part: {flat}"
        assert (REPO / "workflows" / f"{d.name}.smk").is_file()
        assert (REPO / "workflows" / f"{d.name}_common.smk").is_file()


def test_no_paths_of_a_developer_machine_in_tracked_files():
    import subprocess
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    # written without their leading slash: this file is tracked too
    roots = ["work/", "home/[a-z]", "Users/[A-Za-z]", "root/", "tmp/"]
    machine = re.compile(r"(?<![\w.])/(" + "|".join(roots) + ")")
    hits = []
    for name in files:
        path = REPO / name
        if path.suffix in (".png", ".gz", ".npz", ".pt") or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        hits += [f"{name}: {m.group(0)}" for m in machine.finditer(text)]
    assert not hits, hits[:5]


def test_code_verdicts_carry_the_paired_bootstrap_interval():
    rows = [("pretrained_cocosoda", 0.61, "pretrained", 0.03, 0.01, 0.05, "win"),
            ("pretrained", 0.58, None, None, None, None, None),
            ("bm25_split", 0.50, None, None, None, None, None),
            ("cocosoda", 0.52, "bm25_split", 0.02, -0.01, 0.05, "tie")]
    table = pd.DataFrame([{"benchmark": "b", "method": m, "mrr": v, "vs": vs, "mrr_diff": d, "diff_low": lo,
                           "diff_high": hi, "verdict": ve} for m, v, vs, d, lo, hi, ve in rows])
    tuned, scratch = verdicts("code", table)
    assert tuned.startswith("- b, mrr (higher is better): pretrained_cocosoda 0.610 vs the strongest baseline, "
                            "pretrained 0.580: beats it; against pretrained")
    assert tuned.endswith("+0.030 (95 % interval +0.010 to +0.050), a win")
    assert scratch.endswith("(95 % interval -0.010 to +0.050), a tie (the interval holds zero)")
    table.loc[table["method"] == "cocosoda", ["mrr_diff", "diff_low", "diff_high", "verdict"]] = [-0.05, -0.08,
                                                                                                  -0.02, "loss"]
    assert verdicts("code", table)[1].endswith("**a loss**")


def test_metric_verdicts_carry_the_paired_difference_to_the_clean_loss():
    table = pd.DataFrame([
        {"dataset": "esc50", "method": "contrastive", "recall_at_1": 0.54, "recall_at_1_std": 0.004, "n_seeds": 3.0},
        {"dataset": "esc50", "method": "contrastive + Metrix/feature", "recall_at_1": 0.545, "recall_at_1_std": 0.008,
         "n_seeds": 3.0, "r1_vs_clean": 0.0063, "seeds_better": 2.0}])
    line = verdicts("metric", table)[0]
    assert "ties" in line
    assert line.endswith("paired with contrastive on the same splits and seeds: +0.006, better on 2/3")


def test_paper_rows_are_neither_ours_nor_a_baseline():
    table = pd.DataFrame([
        {"dataset": "CUB-200", "method": "contrastive", "recall_at_1": 0.647, "source": "paper"},
        {"dataset": "CUB-200", "method": "contrastive + Metrix/feature", "recall_at_1": 0.674, "source": "paper"},
        {"dataset": "esc50", "method": "contrastive", "recall_at_1": 0.54, "source": "ours"},
        {"dataset": "esc50", "method": "contrastive + Metrix/feature", "recall_at_1": 0.53, "source": "ours"}])
    lines = verdicts("metric", table)
    assert len(lines) == 1 and lines[0].startswith("- esc50,") and lines[0].endswith("**does not beat it**")
    assert "CUB-200" in render_table(table)  # still shown in the table, as the paper's reference


def test_every_loss_of_the_core_is_placed_as_served_or_library_only():
    """docs/ssl_core.md names every exported loss once under "Which families serve a pipeline": either in the
    served table or in the library-only one (issue 20)."""
    import ssl_core.losses as losses

    text = (REPO / "docs" / "ssl_core.md").read_text()
    section = text[text.index("## Which families serve a pipeline"):]
    section = section[:section.index("\n## ", 3)]
    served, library = section.split("**Library-only**")
    for name in (n for n in losses.__all__ if n.endswith("_loss")):
        places = [f"`{name}`" in served, f"`{name}`" in library]
        assert sum(places) == 1, f"{name}: served {places[0]}, library-only {places[1]}"


def test_provenance_ignores_only_the_pages_own_folder(tmp_path, monkeypatch):
    """A clean tree whose old pages Snakemake removed before the job is recorded clean; any other change is not."""
    import subprocess

    from domains.docs import write_docs

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    results = tmp_path / "results" / "medical"
    results.mkdir(parents=True)
    _table(0.8, 0.7).to_csv(results / "table.tsv", sep="\t", index=False)
    out = tmp_path / "docs" / "results"
    out.mkdir(parents=True)
    (out / "provenance.json").write_text("{}")
    (tmp_path / "README.md").write_text("x\n")
    (tmp_path / ".gitignore").write_text("/results/\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    monkeypatch.chdir(tmp_path)
    (out / "provenance.json").unlink()  # what Snakemake does to a job's outputs
    args = (Path("results"), ["medical"], {}, {"domains": ["medical"]}, Path("docs/results"))
    assert write_docs(*args)["work_tree_changes"] is False
    (tmp_path / "README.md").write_text("changed\n")
    assert write_docs(*args)["work_tree_changes"] is True
