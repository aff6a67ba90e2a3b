"""Authored prose (the notebooks' Markdown cells, report/main.tex and report/sections/) states method and context,
never a direction of this study's results: those sentences are generated from the tables (vpr_lib/comparisons.py,
vpr_lib/report/findings.py) and checked by tests/findings_text.py. This test reads every authored sentence that
holds a direction word and accepts it only for a reason listed in LICENCES: a question, a pointer to the generated
text ("whether"), a finding of a cited source, the definition of the verdicts, or a method's definition."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DIRECTION = re.compile(r"\b(better|worse|outperform\w*|beats?|higher|lower|improv\w*|gains?|drops?|hurts?|helps?|"
                       r"superior|inferior|ahead|behind|best|worst|falls?|rises?|exceeds?|surpass\w*|wins?|loses?)\b",
                       re.IGNORECASE)
LICENCES = {
    "a question": r"\?\s*$",
    "points at the generated text or tables": r"\bwhether\b|\bsays? where\b|\bshows? whether\b",
    "a cited source's finding": r"\breport\b|\\cite|\bfound\b|\bfinds\b|\bclaims?\b|gsv-cities",
    "defines the verdicts": r"better / worse / within noise|better or worse|better, worse or",
    "a hypothetical": r"^\s*(-\s*)?\*\*[^*]+\*\*.*\bif\b",
    "a method's definition": r"best positive|stops improving|best validation R@1|may fall below chance",
}


def _authored() -> list[tuple[str, str]]:
    """(file, text) of every authored piece of prose: notebook Markdown sources, the report's TeX."""
    pieces = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                pieces.append((path.name, "".join(cell["source"])))
    for path in [ROOT / "report" / "main.tex", *sorted((ROOT / "report" / "sections").glob("*.tex"))]:
        text = re.sub(r"(?<!\\)%.*", "", path.read_text())  # TeX comments
        text = text[: text.find(r"\begin{thebibliography}")] if r"\begin{thebibliography}" in text else text
        pieces.append((path.name, text))
    return pieces


def _sentences(text: str) -> list[str]:
    text = re.sub(r"`[^`]*`|\$[^$]*\$|\\texttt\{[^}]*\}", " ", text)  # code, file names and formulas
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-#])", text) if s.strip()]


def test_authored_prose_states_no_direction_of_the_results():
    unlicensed = [f"{name}: {sentence!r}" for name, text in _authored() for sentence in _sentences(text)
                  if DIRECTION.search(sentence)
                  and not any(re.search(rule, sentence, re.IGNORECASE) for rule in LICENCES.values())]
    assert not unlicensed, "authored sentences that state a direction (generate them from the tables):\n" + \
        "\n".join(unlicensed)


@pytest.mark.parametrize("sentence, allowed", [
    ("GeM gives better descriptors than average pooling here.", False),
    ("- MixVPR is well ahead of the poolings on SynthCity.", False),
    ("Training lowers the loss and improves recall.", False),
    ("Does GeM give better descriptors than average pooling?", True),
    ("The table above says whether mining beat random negatives beyond noise.", True),
    ("Bracco et al.'s report found ConvAP ahead of GeM.", True),
])
def test_the_scan_tells_a_stated_direction_from_a_licensed_one(sentence, allowed):
    hit = [s for s in _sentences(sentence) if DIRECTION.search(s)
           and not any(re.search(rule, s, re.IGNORECASE) for rule in LICENCES.values())]
    assert (not hit) == allowed


def test_the_boq_sizes_the_prose_states_are_the_params():
    """Notebook 07 and its report section describe BoQ with numbers: those of params/07_mixvpr.yaml's variant."""
    import yaml
    kwargs = yaml.safe_load((ROOT / "params" / "07_mixvpr.yaml").read_text())["variants"]["boq_layer3_adamw"][
        "aggregator_kwargs"]
    notebook = json.loads((ROOT / "notebooks" / "07_mixvpr.ipynb").read_text())["cells"][0]["source"]
    stated = {"notebook 07": "".join(notebook), "report section": (ROOT / "report/sections/07_mixvpr.tex").read_text()}
    for where, text in stated.items():
        boq = text[text.index("BoQ"):]
        for phrase in (f"to {kwargs['dim']} channels", f"{kwargs['queries']} learned queries",
                       f"in {kwargs['layers']} blocks", f"{kwargs['dim'] * kwargs['rows']}-d"):
            assert phrase in " ".join(boq.split()), f"{where}: {phrase!r}"
    assert f"keeps {kwargs['rows']} rows" in " ".join(stated["notebook 07"].split())
    assert f"over the {kwargs['queries'] * kwargs['layers']} query outputs" in " ".join(stated["notebook 07"].split())


def test_the_training_radii_the_prose_states_are_the_params():
    """Section 11 and the README name the positive radii notebook 10 trains with, and say the study runs none."""
    import yaml
    spec = yaml.safe_load((ROOT / "params" / "10_mining.yaml").read_text())
    radii = sorted(v["train_positives_m"] for v in spec["variants"].values() if "train_positives_m" in v)
    study = spec["profiles"]["study"]["variants"]
    assert not any("train_positives_m" in spec["variants"][v] for v in study)
    listed = ", ".join(map(str, radii[:-1])) + f" and {radii[-1]}"
    assert f"the full profile varies it ({listed}\\,m): the study does not" in \
        " ".join((ROOT / "report" / "sections" / "11_ablations.tex").read_text().split())
    assert f"positive radius at training time ({' / '.join(map(str, radii))} m; full profile)" in \
        (ROOT / "README.md").read_text()
