"""The HTML report a reader opens: built after a tiny run, opened in headless Chromium (figures there, captions
rendered with the run's config, no JavaScript errors), and ``snakemake figures`` redrawing without retraining."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import yaml

from tests.browser import CHROMIUM_ARGS, chromium
from tests.conftest import REPO
from tests.test_workflow import _snakemake

CATEGORY = "Medical multi-omics (M3CoL)"
# The table figure last: the screenshot shows it.
FIGURES = ["accuracy_per_seed.png", "metrics_vs_paper.png", "training_curves.png", "table_vs_paper.png"]
RESULTS = [f"results/medical/figures/{f}" for f in FIGURES] + ["results/medical/table.tsv"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, mirror):
    """One tiny run (ROSMAP and BRCA, both methods, one seed, two epochs); returns (workdir, snakemake args)."""
    workdir = tmp_path_factory.mktemp("report")
    cfg = workdir / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"domains": ["medical"], "medical": {"datasets": ["ROSMAP", "BRCA"], "methods": ["m3col", "mogonet"],
                                               "seeds": [0], "model": {"embed_dim": 8, "head_dim": 8},
                                               "train": {"epochs": 2, "val_every": 1},
                                               "mogonet": {"hidden_dims": [8], "pretrain_epochs": 1, "epochs": 2}}}))
    args = ("--configfile", str(REPO / "config" / "test.yaml"), str(cfg))
    proc = _snakemake(workdir, "--cores", "2", *args, mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir, args, mirror


def test_figures_target_redraws_every_figure_without_training(tiny_run):
    workdir, args, mirror = tiny_run
    figdir = workdir / "results/medical/figures"
    runs = sorted(workdir.glob("results/medical/*/*/seed*/run.json"))
    assert runs, "the tiny run trained nothing"
    before = {p: p.stat().st_mtime_ns for p in runs}
    shutil.rmtree(figdir)
    proc = _snakemake(workdir, "figures", "--cores", "2", *args, mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    jobs = set(re.findall(r"^(?:local)?rule (\w+):", log, flags=re.M))
    assert jobs == {"medical_figures", "figures"}, log[-3000:]
    assert not re.search(r"\bmedical_train\b", log)
    for fig in FIGURES:
        assert (figdir / fig).read_bytes()[:4] == b"\x89PNG", fig
    assert {p: p.stat().st_mtime_ns for p in runs} == before


def test_report_opens_in_chromium_with_every_figure_and_no_js_errors(tiny_run, tmp_path):
    workdir, args, mirror = tiny_run
    proc = _snakemake(workdir, "--report", "results/report.html", *args, mirror=mirror)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = workdir / "results/report.html"
    assert report.stat().st_size > 100_000
    binary = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extra) is not installed")
    errors: list[str] = []
    shot = workdir / "results/report_screenshot.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=binary, headless=True,
                                     args=[a for a in CHROMIUM_ARGS if a != "--headless"])
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        # The top-level description, with the run's config filled in.
        body = page.inner_text("body")
        assert "reproduces the results of domain-specific self-supervised methods" in body and "ROSMAP, BRCA" in body
        assert sorted(page.evaluate("Object.keys(results)")) == sorted(RESULTS)
        # Navigate as a reader: Results -> the category -> one row per result.
        page.get_by_text("Results", exact=True).click()
        page.get_by_role("link", name=CATEGORY).click()
        page.locator("tr", has_text="results/medical/").first.wait_for()
        listed = [r.strip() for r in page.locator("tr td:first-child").all_inner_texts() if r.strip()]
        assert sorted(listed) == sorted(RESULTS)
        for path in RESULTS:
            caption = page.evaluate("p => results[p].caption", path)
            # What it reproduces, and the config of this run rendered into it (seeds [0]).
            assert "paper" in caption and "M3CoL" in caption and "{{" not in caption, (path, caption[:300])
            assert re.search(r"seeds\s+0\b", caption), (path, caption[:300])
        # Open every figure with its eye button: the image must decode in the page.
        for fig in FIGURES:
            page.locator("tr", has_text=fig).locator("a").first.click()
            img = page.locator("img[src^='data:image/png']")
            img.wait_for()
            assert page.evaluate("document.querySelector(\"img[src^='data:image/png']\").naturalWidth") > 300, fig
        # End on the paper-table figure with its caption, and keep a screenshot for a human.
        page.locator("tr", has_text="table_vs_paper.png").locator("a").nth(1).click()
        page.get_by_text("Δ ACC vs paper M3CoL").first.wait_for()
        page.wait_for_timeout(300)
        page.screenshot(path=str(shot))
        browser.close()
    assert shot.read_bytes()[:4] == b"\x89PNG"
    print(f"report screenshot: {shot}")
    if os.environ.get("SSL_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["SSL_REPORT_SCREENSHOT"])
    assert not errors, errors
