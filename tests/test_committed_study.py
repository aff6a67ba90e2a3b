"""The committed study (results/ in git: one `./run_all.sh --profile study`): every notebook's executed copy is there,
linked from the README, with outputs, and the findings it ends with state the committed versus tables' numbers.
Only `--profile study` writes these files (other profiles write results/<profile>/), so they are what git holds."""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from findings_text import check

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def executed(name: str) -> dict:
    return json.loads((ROOT / "results" / "executed" / f"{name}.ipynb").read_text())


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_has_a_committed_executed_copy_linked_from_the_readme(name):
    assert f"[`{name}`](results/executed/{name}.ipynb)" in (ROOT / "README.md").read_text()
    nb = executed(name)
    assert nb["metadata"]["papermill"]["parameters"]["profile"] == "study"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "a cell of the committed copy did not run"
    shown = [c for c in code if c.get("outputs")]
    assert len(shown) >= 2, "the committed copy shows no tables or figures"
    text = json.dumps(nb)
    assert "start_time" not in text and str(ROOT) not in text  # tidied: no timing, no machine paths


@pytest.mark.parametrize("name", [n for n in NOTEBOOKS if (ROOT / "results" / "tables" / f"{n}_versus.csv").is_file()])
def test_each_executed_notebook_ends_with_findings_that_state_the_committed_tables(name):
    last = executed(name)["cells"][-1]
    assert "".join(last["source"]).startswith("exp.findings()")
    text = "".join("".join(o["data"]["text/markdown"]) for o in last["outputs"] if "text/markdown" in o.get("data", {}))
    versus = pd.read_csv(ROOT / "results" / "tables" / f"{name}_versus.csv").set_index("variant")
    assert text and not check(text, versus)


def test_the_stamp_names_the_study_and_the_commit_of_every_run_behind_the_tables():
    stamp = (ROOT / "results" / "STAMP").read_text()
    assert re.search(r"tables and figures from \d+ runs on SynthCity study", stamp)
    commits = {str(c) for p in (ROOT / "results" / "tables").glob("*_runs.csv") for c in pd.read_csv(p).commit}
    listed = stamp.split("commit(s) of those runs: ")[1].splitlines()[0].split(", ")
    assert commits == set(listed)


def test_the_readme_links_each_notebook_to_colab_once_the_repository_is_configured():
    """The repository lives in pyproject.toml only; the README's table follows it (scripts/readme_notebooks.py)."""
    import subprocess
    import sys
    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_notebooks import with_links
    readme = (ROOT / "README.md").read_text()
    linked = with_links(readme, "someone/vpr-kit")
    for name in NOTEBOOKS:
        assert (f"[`{name}`](results/executed/{name}.ipynb) [![Open in Colab](https://colab.research.google.com/assets/"
                f"colab-badge.svg)](https://colab.research.google.com/github/someone/vpr-kit/blob/main/notebooks/"
                f"{name}.ipynb) |") in linked
    assert with_links(linked, "") == with_links(readme, "")  # unset again: the badges go
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_notebooks.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
