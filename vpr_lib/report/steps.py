"""The report's experiments in the brief's order: one subsection per step of the course brief (vpr_lib.brief.STEPS),
opening with the brief's question, the kit's answer, the course reports' numbers for the same comparisons and the
agreement, then the sections of the notebooks that answer it, then a measured diagnosis of each disagreement
(vpr_lib.diagnosis). Notebooks no step names follow under "Beyond the brief's steps"."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from vpr_lib.brief import AGREEMENTS, STEPS, synthetic_words
from vpr_lib.diagnosis import what_it_shows
from vpr_lib.report.findings import markdown_to_tex
from vpr_lib.comparisons import verdict_words
from vpr_lib.report.tex import plain_table, tex_escape


def _pair_sentence(p: dict) -> str:
    ci = f" {p['kit 95% CI']}" if p.get("kit 95% CI") else ""
    return (f"{tex_escape(p['source'])}: \\texttt{{{tex_escape(p['variant'])}}} {p['report Δ']:+.1f} on "
            f"{tex_escape(p['report set'])}; the kit {p['kit Δ']:+.1f}{ci} on {tex_escape(p['kit set'])} "
            f"({tex_escape(verdict_words(p['kit verdict'], p.get('kit 95% CI')))}): \\textbf{{{tex_escape(p['agreement'])}}}")


def step_intro(row: pd.Series, pairs: pd.DataFrame, note: str = "") -> str:
    """The opening paragraphs of a step: question, the kit's answer (and `note` on it), the reports' numbers, the
    agreement."""
    mine = pairs[pairs.step == row.step].to_dict("records") if not pairs.empty else []
    course = ("; ".join(_pair_sentence(p) for p in mine) + "." if mine else
              tex_escape(row.course) + ("." if row.course not in ("no number",) else
                                        ": no course report measures this comparison."))
    return "\n".join([
        rf"\paragraph{{The brief asks.}} {tex_escape(row.question)} (the step-{tex_escape(row.step)} row of \cref{{tab:brief}})",
        rf"\paragraph{{The kit finds.}} {tex_escape(row.kit)}." + (f" {tex_escape(note)}" if note else ""),
        rf"\paragraph{{The course reports.}} {course}",
        rf"\paragraph{{Agreement.}} {tex_escape(row.agreement)}" +
        (" (agree / disagree: the kit decides the report's direction or the other; disagree in size: the kit decides "
         "neither and its interval excludes the report's difference)." if mine else "."), ""])


def diagnosis_tex(d: dict, index: int, gen: Path) -> str:
    """One disagreement's diagnosis: its measurements in sentences, and the recall by condition where 03 has it."""
    name = f"diagnosis_{index}"
    title = (f"Diagnosis: \\texttt{{{tex_escape(d['variant'])}}} against \\texttt{{{tex_escape(d['baseline'])}}} on "
             f"{tex_escape(d['kit set'])}")
    parts = [rf"\subsubsection{{{title}}}", rf"\label{{sec:{name}}}",
             rf"{tex_escape(d['source'])} report {d['report Δ']:+.1f} R@1; the kit "
             rf"{d['agreement'].replace('disagree', 'disagrees', 1)}. "
             + " ".join(markdown_to_tex(s) for s in what_it_shows(d))]
    gaps = d.get("conditions")
    if gaps is not None and len(gaps):
        parts[-1] += rf" \Cref{{tab:{name}}} gives the recall by condition."
        shown = gaps.assign(gap=gaps.gap.map(lambda g: f"{g:+.1f}"))  # signed, as its interval
        parts.append(plain_table(shown, f"R@1 (\\%) by query condition on {tex_escape(d['kit set'])}, "
                                       f"\\texttt{{{tex_escape(d['variant'])}}} and \\texttt{{{tex_escape(d['baseline'])}}} "
                                       "(mean over seeds; notebook 03) and the gap, paired by seed, with its 95 \\% interval "
                                       "(uncorrected)", name, gen, wide=True))  # seven columns, across both
    return "\n".join(parts) + "\n"


def experiments_tex(sections: dict[str, str], results: Path, gen: Path, brief_opening: str | None,
                    brief: tuple[pd.DataFrame, pd.DataFrame], diagnosed: list[dict]) -> str:
    """The experiments section: the brief table, then each step's subsection in the brief's order holding its
    notebooks' sections ({notebook: LaTeX}, each a subsubsection) and its disagreements' diagnoses, then the
    notebooks no step names. `brief` is vpr_lib.brief.brief_table's (steps, pairs), `diagnosed` the diagnoses of
    its disagreements (vpr_lib.diagnosis.disagreements)."""
    steps, pairs = brief
    runs = [pd.read_csv(p) for p in (Path(results) / "tables").glob("*_runs.csv")]
    synthetic = any(t["data"].astype(str).str.startswith("SynthCity").any() for t in runs if "data" in t)
    out = [brief_opening] if brief_opening else []
    placed, count = set(), 0
    for step in STEPS:
        rows = steps[steps.step == step.label] if not steps.empty else steps
        if rows.empty:
            continue
        row = rows.iloc[0]
        body = [rf"\subsection{{Step {step.label}: {tex_escape(step.title)}}}", rf"\label{{sec:step-{step.label}}}",
                step_intro(row, pairs, " ".join(filter(None, [step.note, synthetic_words(step) if synthetic else ""])))]
        for name in step.notebooks:
            if name in sections and name not in placed:
                body.append(sections[name])
                placed.add(name)
            elif name in placed:
                body.append(rf"Its tables and findings are those of \cref{{sec:{name}}}.")
        for d in [d for d in diagnosed if d["step"] == step.label]:
            count += 1
            body.append(diagnosis_tex(d, count, gen))
        out.append("\n".join(body))
    rest = [text for name, text in sections.items() if name not in placed]
    if rest:
        out.append("\n".join([r"\subsection{Beyond the brief's steps}", r"\label{sec:beyond}",
                              "The brief's step 6 asks for contributions that improve results or speed up training; "
                              "the sections below are such studies outside its numbered steps.",
                              *rest]))
    return "\n\n".join(out)


def course_summary_tex(pairs: pd.DataFrame, diagnosed: list[dict]) -> str:
    """For the conclusion: how the kit stands beside the course reports over the whole brief (brief_table's pairs),
    and where each disagreement's diagnosis is; '' when no report compares what this run compares."""
    if pairs.empty:
        return ""
    counts = pairs.agreement.value_counts()
    said = ", ".join(f"{counts[w]} {w}" for w in AGREEMENTS if w in counts)
    where = "; ".join(rf"\texttt{{{tex_escape(d['variant'])}}} against \texttt{{{tex_escape(d['baseline'])}}} on "
                      rf"{tex_escape(d['kit set'])} (\cref{{sec:diagnosis_{i}}})" for i, d in enumerate(diagnosed, 1))
    return (r"\paragraph{Beside the course.} Of the " + f"{len(pairs)} comparisons a course report or the lecture also "
            f"makes: {said} (\\cref{{tab:brief}})." +
            (f" The disagreements, each with its measured diagnosis: {where}." if diagnosed else "") + "\n")
