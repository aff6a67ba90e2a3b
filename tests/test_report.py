"""The report: generated from smoke results, built with latexmk, read back with pdftotext.

Needs TeX Live (`scripts/install_system_deps.sh tex`, run by CI); skipped without it unless
VPR_REQUIRE_TEX=1 (as in CI), where its absence is a failure."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from vpr_lib.report import build_pdf, generate, tex_escape

ROOT = Path(__file__).resolve().parents[1]
HAVE_TEX = shutil.which("latexmk") and shutil.which("pdftotext")


def test_names_from_params_are_escaped_for_latex():
    assert tex_escape("circle_sgd") == r"circle\_sgd"
    assert tex_escape("lr 0.34% & #1 {x}") == r"lr 0.34\% \& \#1 \{x\}"
    assert tex_escape("37.1 ± 2.0") == r"37.1 $\pm$ 2.0"


def test_no_results_gives_a_clear_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="No results to report.*run ./run_all.sh"):
        generate(tmp_path / "results", tmp_path / "report")


@pytest.mark.skipif(not HAVE_TEX and not os.environ.get("VPR_REQUIRE_TEX"),
                    reason="TeX Live not installed (scripts/install_system_deps.sh tex)")
def test_pdf_from_smoke_results_has_the_tables_numbers_and_no_broken_reference(synth_smoke, results_tmp, tmp_path):
    from vpr_lib.experiments import run_experiment
    for name in ("01_baseline", "02_gem"):  # the other steps have no results: their sections are left out
        run_experiment(name, "smoke", str(synth_smoke), progress=False)
    report = tmp_path / "report"
    shutil.copytree(ROOT / "report", report, ignore=shutil.ignore_patterns("generated", "main.pdf", "main.*"))
    shutil.copy(ROOT / "report" / "main.tex", report)
    shutil.rmtree(results_tmp / "runs")  # the report needs the tables and figures only (they are committed)
    generate(results_tmp, report)
    pdf = build_pdf(report)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                          encoding="utf-8", errors="replace").stdout
    flat = " ".join(text.split())
    summary = pd.read_csv(results_tmp / "tables" / "02_gem_summary.csv").set_index("variant")
    for variant in ("avg", "gem"):
        for column in ("SF-XS val R@1", "Tokyo-XS R@5"):
            assert summary.loc[variant, column] in flat  # the table's cells, as in the CSV
    # the sentence's number is the same cell (macros generated from the same CSV)
    assert f"GeM reaches {summary.loc['gem', 'SF-XS val R@1']} R@1" in flat
    assert "beyond seed noise" in flat or "within seed noise" in flat
    assert "SynthCity smoke" in flat and "2 seed(s)" in flat  # captions state data, profile and seeds
    runs = pd.read_csv(results_tmp / "tables" / "02_gem_runs.csv")
    assert all(run_id in flat for run_id in runs.run_id)  # the appendix lists every run
    assert re.search(r"\d\.\d\s+GeM pooling", text)  # numbered subsections of the steps with results
    assert not re.search(r"\d\.\d\s+(Losses|Miners|Samplers)", text)  # no results, no section
    log = (report / "main.log").read_text(errors="replace")
    assert "undefined" not in log.lower() and "no result" not in log and "??" not in flat
