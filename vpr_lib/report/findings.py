"""The report's findings, generated from the versus tables (vpr_lib.comparisons): one paragraph per step, and a
conclusion that lists, step by step, what is better or worse than its baseline on the test sets."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from vpr_lib.analysis import STALLED_POINTS
from vpr_lib.stats import ALPHA
from vpr_lib.comparisons import findings
from vpr_lib.family import family_size
from vpr_lib.report.tex import tex_escape


def markdown_to_tex(text: str) -> str:
    """The findings' Markdown (`code`, **bold**) in LaTeX, everything else escaped."""
    parts = re.split(r"(`[^`]*`|\*\*[^*]*\*\*)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(rf"\texttt{{{tex_escape(part[1:-1])}}}")
        elif part.startswith("**") and part.endswith("**") and len(part) > 3:
            out.append(rf"\textbf{{{markdown_to_tex(part[2:-2])}}}")
        else:
            # "corrected p" unbroken: a reader of the PDF finds the sentence as the table states it
            out.append(tex_escape(part).replace("corrected p = ", r"\mbox{corrected} $p$ = ").replace("corrected p < ", r"\mbox{corrected} $p <$ ").replace(" p = ", " $p$ = "))
    return "".join(out)


def read_versus(path: Path) -> pd.DataFrame | None:
    """A saved versus table with the attributes findings() reads (baseline, metric)."""
    if not Path(path).is_file():
        return None
    table = pd.read_csv(path).set_index("variant")
    metric = next(c for c in table.columns if " Δ " in c).split(" Δ ")[1]
    runs = pd.read_csv(Path(path).with_name(Path(path).name.replace("_versus", "_runs")))
    table.attrs.update(baseline=runs.variant.iloc[0], metric=metric, family=family_size(runs.profile.iloc[0]))
    return table


def step_findings_tex(table: pd.DataFrame) -> str:
    """The findings paragraph of a step (generated from its versus table)."""
    return r"\paragraph{Findings.} " + markdown_to_tex(findings(table, rule=False))


def conclusion_tex(steps: list[tuple[str, str, pd.DataFrame, set]]) -> str:
    """One item per step with comparisons: what is better or worse than its baseline on the test sets; a dagger
    marks a variant on a set where it did not improve on its own epoch 0 there (`untrained`: (variant, set) pairs;
    its gap says that, not how the method does)."""
    items, marked = [], False
    for name, title, table, untrained in steps:
        sets = [c[: -len(" verdict")] for c in table.columns if c.endswith(" verdict")]
        metric, baseline = table.attrs["metric"], table.attrs["baseline"]
        said = {"better": [], "worse": []}
        for variant, row in table.iterrows():
            for test_set in sets:
                if row[f"{test_set} verdict"] in said:
                    dagger = r"$^\dagger$" if (variant, test_set) in untrained else ""
                    marked = marked or bool(dagger)
                    said[row[f"{test_set} verdict"]].append(
                        rf"\texttt{{{tex_escape(variant)}}}{dagger} on {tex_escape(test_set)} "
                        rf"({row[f'{test_set} Δ {metric}']:+.1f})")
        total = int(table[[f"{s} verdict" for s in sets]].isin(["better", "worse", "within noise"]).values.sum())
        rest = total - len(said["better"]) - len(said["worse"])
        text = [rf"\item \textbf{{{tex_escape(title)}}} (\cref{{sec:{name}}}), against \texttt{{{tex_escape(baseline)}}}:"]
        if total:
            text.append(f"better: {'; '.join(said['better']) or 'none'};")
            text.append(f"worse: {'; '.join(said['worse']) or 'none'};")
            text.append(f"within noise: {rest} of {total}.")
        else:
            text.append("descriptive comparisons only (fewer seeds than the baseline: no verdict).")
        items.append(" ".join(text))
    if not items:
        return ""
    note = (rf" $^\dagger$: on that set, ends below its own epoch 0 or less than {STALLED_POINTS:g} points above it "
            r"(mean over seeds: it did not train for that set in this budget; its gap says that, not how the method "
            r"does at convergence)." if marked else "")
    return "\n".join([r"\paragraph{What the test sets show.} Each step's variants against its baseline "
                      rf"on the test sets ({metric}, points; paired bootstrap over seeds and queries; decided when "
                      rf"$p \times {table.attrs['family']} < {ALPHA:g}$, Bonferroni over the study's "
                      rf"{table.attrs['family']} test-set comparisons; descriptive variants left out):", r"\begin{itemize}", *items, r"\end{itemize}" + note, ""])
