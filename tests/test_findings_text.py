"""Every generated sentence that states a direction or a number agrees with results/tables: the findings of each
report step, the conclusion and the committed PDF, read back from the committed tables (the notebooks' findings
are read back in tests/test_notebooks.py)."""
import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from findings_text import check, stated
from vpr_lib.report.build import generate

ROOT = Path(__file__).resolve().parents[1]
TEST_SETS = ("SF-XS test", "Tokyo-XS")


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """results/ and report/ as committed (a local smoke run_all rewrites results/tables), the report generated."""
    root = tmp_path_factory.mktemp("committed")
    archive = subprocess.run(["git", "archive", "HEAD", "results", "report"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(root, filter="data")
    return root, generate(root / "results", root / "report")


def versus_of(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "results" / "tables" / f"{name}_versus.csv").set_index("variant")


def test_each_steps_findings_state_its_versus_table(committed):
    root, generated = committed
    checked = 0
    for chunk in (generated / "experiments.tex").read_text().split(r"\label{sec:")[1:]:
        name = chunk[: chunk.index("}")]
        if r"\paragraph{Findings.}" in chunk:
            paragraph = chunk.split(r"\paragraph{Findings.}")[1].split("\n")[0]
            assert not check(paragraph, versus_of(root, name)), (name, check(paragraph, versus_of(root, name)))
            checked += 1
    assert checked == len(list((root / "results" / "tables").glob("*_versus.csv")))  # every step with a comparison


def test_the_conclusion_states_each_steps_test_set_verdicts(committed):
    root, generated = committed
    items = (generated / "conclusion.tex").read_text().split(r"\item")[1:]
    assert len(items) == len(list((root / "results" / "tables").glob("*_versus.csv")))  # one item per step
    for item in items:
        name = re.search(r"\\cref\{sec:([^}]+)\}", item).group(1)
        assert not check(item, versus_of(root, name), sets=TEST_SETS), (name, check(item, versus_of(root, name), TEST_SETS))


@pytest.mark.skipif(not shutil.which("pdftotext") and not os.environ.get("VPR_REQUIRE_TEX"),
                    reason="pdftotext not installed (scripts/install_system_deps.sh tex)")
def test_the_committed_pdf_says_what_the_tables_say(committed):
    """The committed PDF was built from the committed tables: every comparison its findings list is in its text."""
    root, generated = committed
    pdf = root / "report" / "main.pdf"  # -raw: in reading order, a sentence not split by a float or a column
    text = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                          encoding="utf-8", errors="replace").stdout
    flat = re.sub(r"\s+", "", text)
    missing = []
    for chunk in (generated / "experiments.tex").read_text().split(r"\label{sec:")[1:]:
        if r"\paragraph{Findings.}" not in chunk:
            continue
        found, _ = stated(chunk.split(r"\paragraph{Findings.}")[1].split("\n")[0])
        for (variant, test_set), (_, delta, interval, p) in found.items():
            # from the difference on, in three parts: a float or a page break may fall between the variant's name,
            # its set and the rest, inside the interval, or between the interval and the p
            low, high = interval.replace(" ", "").split(",")
            parts = [f"({delta}{low},", f"{high},", f"correctedp{p if p.startswith('<') else '=' + p})"]
            if variant not in text or not all(part.replace("-", "−") in flat or part in flat for part in parts):
                missing.append(f"{variant} {''.join(parts)}")
    assert not missing, missing


@pytest.mark.parametrize("verdicts,sentence_check", [("better", "better: `gem` on SF-XS test (+3.0"),
                                                     ("worse", "Worse: `gem` on SF-XS test (-3.0")])
def test_the_reader_catches_a_sentence_that_contradicts_its_table(verdicts, sentence_check):
    """The check itself: a table whose verdict is reversed against the sentence is reported."""
    table = pd.DataFrame({"variant": ["gem"], "SF-XS test Δ R@1": [3.0 if verdicts == "better" else -3.0],
                          "SF-XS test 95% CI": ["[+1.0, +5.0]"], "SF-XS test p corrected": [0.01],
                          "SF-XS test verdict": [verdicts]}).set_index("variant")
    right = ("better: `gem` on SF-XS test (+3.0 [+1.0, +5.0], corrected p = 0.010). Worse: none. No comparison is "
             "within noise." if verdicts == "better" else "better: none. Worse: `gem` on SF-XS test (-3.0 [+1.0, +5.0], "
             "corrected p = 0.010). No comparison is within noise.")
    assert sentence_check in right and not check(right, table, sets=("SF-XS test",))
    flipped = table.assign(**{"SF-XS test verdict": "worse" if verdicts == "better" else "better"})
    assert check(right, flipped, sets=("SF-XS test",))
    noise = table.assign(**{"SF-XS test verdict": "within noise"})
    assert check(right, noise, sets=("SF-XS test",))
