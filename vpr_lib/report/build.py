"""The paper-format report: everything data-dependent is generated from results/ into report/generated/,
then `latexmk` builds report/main.pdf.  Text and tables cannot disagree: numbers used in sentences are
macros (`\\res{notebook}{variant}{set}{metric}`, `\\vs{notebook}{variant}{set}`) defined from the same CSVs.

    python -m vpr_lib.report [--no-pdf]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from vpr_lib.analysis import stalled_variants, untrained_on_sets
from vpr_lib.brief import brief_table, ranked_reports
from vpr_lib.seeds import seeds_vs_kit
from vpr_lib.config import EXPERIMENT_TABLES, missing_outputs, notebook_paths, report_settings
from vpr_lib.diagnosis import disagreements
from vpr_lib.errors import VPRInputError
from vpr_lib.family import family_size
from vpr_lib.paths import report_dir, repo_root, results_dir
from vpr_lib.report.data import data_section
from vpr_lib.report.findings import conclusion_tex, read_versus, step_findings_tex
from vpr_lib.report.sections import (analysis_section, brief_section, closing_questions, knn_section,
                                     seeds_section)
from vpr_lib.report.steps import course_summary_tex, experiments_tex
from vpr_lib.report.tex import (TEX_INSTALL, caption_of, cites, copy_figure, describe_data, epoch_tex, figure_tex,
                                macros_tex, plain_table, plural, progress_tex, read_table, runs_appendix, seeds_words,
                                start_gains_tex, table_tex, tex_escape)
from vpr_lib.results import atomic_write_text, file_lock, git_commit, outputs_lock
from vpr_lib.stats import REPLICATES

# A notebook's section, by the `section` of its params' `report:` block (config.REPORT_KEYS); the default,
# `experiment`, is the section of a notebook that trains (_step_section).
SECTIONS = {"visual_analysis": analysis_section, "knn": knn_section}


def report_steps() -> list[tuple[str, dict]]:
    """(notebook, report settings) of every notebook with a `report:` block, in notebook order."""
    steps = [(path.stem, report_settings(path.stem)) for path in notebook_paths()]
    unknown = {s["section"] for _, s in steps if s} - set(SECTIONS) - {"experiment"}
    if unknown:
        raise VPRInputError(f"Unknown report section(s) {sorted(unknown)} in params/; expected one of "
                            f"{sorted(SECTIONS) + ['experiment']}.")
    return [(name, settings) for name, settings in steps if settings]


def check_declared_outputs(results: Path, steps: list[tuple[str, dict]]) -> None:
    """Stop, naming them, when a notebook that ran lacks a declared output its section reads (a figure, an extra
    table): the section would silently miss it. A notebook ran when its summary (or, for a section builder's
    notebook, one of its reads) is in the store. Its experiment tables are not checked here: a notebook's outputs
    enter the store together or not at all (vpr_lib.notebooks), and a notebook fails that does not write them all.
    The store's profile is that of its runs."""
    profiles = {str(p) for path in (results / "tables").glob("*_runs.csv") for p in pd.read_csv(path).profile}
    if len(profiles) != 1:
        return  # no runs yet, or a store of mixed profiles: nothing to check against
    profile = profiles.pop()
    experiment_tables = {f"tables/{name}_{kind}.csv" for name, _ in steps for kind in EXPERIMENT_TABLES + ("versus",)}
    for name, settings in steps:
        reads = [f"tables/{n}.csv" for n in settings["reads"]["tables"]] + [
            f"figures/{n}.png" for n in settings["reads"]["figures"]]
        ran = (results / "tables" / f"{name}_summary.csv").is_file() or any((results / r).is_file() for r in reads)
        missing = [m for m in missing_outputs(name, profile, results) if m not in experiment_tables]
        if ran and missing:
            raise VPRInputError(f"Notebook {name} ran in the {profile} profile but {results} lacks "
                                f"{', '.join(missing)}, which params/{name}.yaml declares (report:): re-run it "
                                f"(./run_all.sh --profile {profile} --only {name[:2]}).")


def table_groups(settings: dict, summary: pd.DataFrame):
    """(file suffix, label, rows) of each table of a step: one table, or one per table group of its report settings
    that has results (a variant may appear in several groups, e.g. SGD among optimizers and learning rates)."""
    if not settings["table_groups"]:
        return [("", None, summary)]
    groups, chance = [], summary[summary.variant == "chance"]  # the chance row goes with every group
    variants = summary[summary.variant != "chance"].variant.astype(str)
    grouped = pd.Series(False, index=variants.index)
    for i, group in enumerate(settings["table_groups"]):
        matched = variants.str.fullmatch(group["variants"])
        grouped |= matched
        if matched.sum() > (1 if i else 0):  # a group of one row compares nothing
            groups.append((f"_{i + 1}", group["label"], pd.concat([summary.loc[matched[matched].index], chance])))
    if not grouped.all():  # a variant that no group names is not left out of the report
        others = summary.loc[grouped[~grouped].index]
        groups.append((f"_{len(settings['table_groups']) + 1}", "other variants", pd.concat([others, chance])))
    return groups


def _step_section(name: str, settings: dict, results: Path, gen: Path, report: Path):
    """The subsection of one notebook that trains, its macros and its runs; None when it has no results."""
    title, what = settings["title"], settings["compares"]
    summary = read_table(results / "tables" / f"{name}_summary.csv")
    runs = read_table(results / "tables" / f"{name}_runs.csv")
    if summary is None or runs is None:
        return None
    info = describe_data(runs)
    parts = [rf"\subsubsection{{{title}}}", rf"\label{{sec:{name}}}"]
    if (report / "sections" / f"{name}.tex").is_file():
        parts.append(rf"\input{{sections/{name}}}")
    floats, shown = [], []  # (LaTeX of a float, what the sentence citing it says it shows)
    for suffix, label, rows in table_groups(settings, summary):
        (gen / "tables" / f"{name}{suffix}.tex").write_text(table_tex(
            rows, caption_of(f"Recalls: {label or what}", info, rows=rows), f"tab:{name}{suffix}"))
        floats.append(rf"\input{{generated/tables/{name}{suffix}}}")
        shown.append((f"tab:{name}{suffix}", f"the recalls{' of ' + tex_escape(label) if label else ''}"))
    epochs = read_table(results / "tables" / f"{name}_epochs.csv")
    if settings["epoch_table"] and epochs is not None:
        (gen / "tables" / f"{name}_epochs.tex").write_text(epoch_tex(
            epochs, caption_of(f"SF-XS val R@1 per epoch (epoch 0 = before training): {what}; the recall tables "
                               "test each run's best epoch on SF-XS val, so their means may differ from the last "
                               "epoch's", info, baselines=False, metric="R@1", per_epoch=True),
            f"tab:{name}_epochs"))
        floats.append(rf"\input{{generated/tables/{name}_epochs}}")
        shown.append((f"tab:{name}_epochs", "SF-XS val R@1 per epoch"))
    # the recall bars of the notebook repeat the recall table, and its validation curves the epoch table when it
    # has one: the report shows the tables only
    path = None if settings["epoch_table"] else copy_figure(results, gen, f"{name}_val_curves")
    if path:
        floats.append(figure_tex(path, f"SF-XS val R@1 per epoch, {what}; shaded: $\\pm$ one std over "
                                       f"{seeds_words(info)}, {info['data']}.", f"fig:{name}_val_curves"))
        shown.append((f"fig:{name}_val_curves", "the validation curves"))
    for extra in settings["tables"]:
        table = read_table(results / "tables" / f"{extra['name']}.csv")
        if table is not None:
            floats.append(plain_table(table, extra["caption"], extra["name"], gen, wide=extra.get("wide", False)))
            shown.append((f"tab:{extra['name']}", tex_escape(extra.get("shows", extra["name"]))))
    for extra in settings["figures"]:
        path = copy_figure(results, gen, extra["name"])
        if path:
            floats.append(figure_tex(path, extra["caption"], f"fig:{extra['name']}"))
            shown.append((f"fig:{extra['name']}", tex_escape(extra.get("shows", extra["name"]))))
    if shown:
        parts.append(cites(shown))
    if epochs is not None:
        parts.append(progress_tex(*stalled_variants(epochs)))
    parts.append(start_gains_tex(summary))
    parts += floats
    versus = read_versus(results / "tables" / f"{name}_versus.csv")
    if versus is not None:
        parts.append(step_findings_tex(versus))
    macros = macros_tex(name, summary, versus.reset_index() if versus is not None else None)
    results_table, epoch0 = (read_table(results / "tables" / f"{name}_{kind}.csv") for kind in ("results", "epoch0"))
    untrained = (untrained_on_sets(results_table, epoch0) if results_table is not None and epoch0 is not None
                 else set())
    return "\n".join(parts), macros, runs, {**info, "versus": versus, "title": title, "untrained": untrained}


def all_seeds_words(infos: list[dict]) -> str:
    """How many seeds the report's variants ran: '3 seeds', or '1 to 3 seeds: 3 for 1 variant, 2 for 5 variants and
    1 for 1 variant' (a variant whose runs another notebook also shows, as 09's cosplace is 07's GeM, counts once)."""
    runs = {r for i in infos for r in i.get("variant_runs", {}).values()}
    per_variant = [len(r) for r in runs] + [i["seeds"] for i in infos if "variant_runs" not in i]
    counts = sorted(Counter(per_variant).items(), reverse=True)
    if len(counts) <= 1:
        return plural(counts[0][0] if counts else 0, "seed")
    listed = [f"{n} for {plural(k, 'variant')}" for n, k in counts]
    return (f"{counts[-1][0]} to {plural(counts[0][0], 'seed')}: " + ", ".join(listed[:-1]) + " and " + listed[-1])


def in_this_run(infos: list[dict], left_out: list[str]) -> str:
    """For the abstract, when notebooks are left out: which comparisons this run holds, or ''."""
    if not left_out:
        return ""
    titles = [t[0].lower() + t[1:] if t.split()[0][1:].islower() else t for t in (i["title"] for i in infos)]
    listed = ", ".join(titles[:-1]) + " and " + titles[-1] if len(titles) > 1 else "".join(titles)
    return (f"This run compares {tex_escape(listed)} (\\cref{{sec:experiments}}); "
            r"\texttt{-{}-profile study} runs the other comparisons.")


def left_out_sentence(left_out: list[str]) -> str:
    """The notebooks that train but have no results here (the demo leaves some out), in one sentence, or ''."""
    if not left_out:
        return ""
    listed = ", ".join(left_out[:-1]) + " and " + left_out[-1] if len(left_out) > 1 else left_out[0]
    return (f"This run has no results for notebook{'s' if len(left_out) > 1 else ''} {listed}: the "
            r"demo profile leaves them out to fit its time budget, and \texttt{./run\_all.sh -{}-profile study} runs "
            "every comparison in the same regime.")


def profile_note(profiles: set) -> str:
    """Under the title: which profile the runs come from; the demo says plainly that it is the demo."""
    if profiles == {"study"}:
        return r"The whole study (\texttt{-{}-profile study})"
    if "demo" in profiles:
        return (r"\textbf{The demo}: a quick subset of the study's runs (fewer variants and seeds), from "
                r"\texttt{./run\_all.sh}; the whole study's report is \texttt{report/main.pdf} in the repository")
    return "Profile " + ", ".join(sorted(tex_escape(p) for p in profiles))


class NothingToReport(FileNotFoundError):
    """No notebook has written study results yet."""


def generate(results: Path | None = None, report: Path | None = None) -> Path:
    """report/generated/: experiments.tex (the sections with results), numbers.tex (macros), runs.tex
    (appendix), tables/ and figures/.  Rebuilt in a temporary folder, then swapped in."""
    results, report = Path(results or results_dir()), Path(report or report_dir())
    report.mkdir(parents=True, exist_ok=True)
    gen = Path(tempfile.mkdtemp(prefix=".generated.", dir=report))  # one per build: two builds never share it
    gen.chmod(0o755)
    try:
        _fill(gen, results, report)
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        raise
    final = report / "generated"
    while True:  # swap in by renames; a concurrent build's swap wins or loses whole
        old = report / f".generated.old.{os.getpid()}.{time.monotonic_ns()}"
        with contextlib.suppress(FileNotFoundError):
            final.rename(old)
        try:
            gen.rename(final)
            break
        except OSError:  # another build put its folder there in between: move it aside too
            continue
        finally:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _fill(gen: Path, results: Path, report: Path) -> None:
    (gen / "tables").mkdir(parents=True)
    sections, macros, all_runs, infos, left_out = {}, [], [], [], []
    steps = report_steps()
    check_declared_outputs(results, steps)
    for name, settings in steps:
        if settings["section"] != "experiment":
            special = SECTIONS[settings["section"]](name, results, gen, report)
            if special:
                sections[name] = special[0]
                macros += special[1]
            continue
        step = _step_section(name, settings, results, gen, report)
        if step is not None:
            text, step_macros, runs, info = step
            sections[name] = text
            macros += step_macros
            all_runs.append((name, runs))
            infos.append(info)
        else:
            left_out.append(f"{name[:2]} ({settings['title']})")
    seeds = seeds_section(results, gen, report)
    if not sections and not seeds:
        raise NothingToReport(f"No results to report under {results / 'tables'}: run ./run_all.sh first.")
    brief = brief_table(results)
    diagnosed = disagreements(brief[1], results / "tables")
    ranked = ranked_reports(seeds_vs_kit(results)) if seeds else {}  # what Table 'seeds_vs_kit' ranks
    experiments = [experiments_tex(sections, results, gen, brief_section(brief, gen, ranked), brief, diagnosed)]
    if seeds:
        experiments.append(seeds[0])
        macros += seeds[1]
    run_ids = {r for _, runs in all_runs for r in runs.run_id}
    data = sorted({i["data"] for i in infos})
    macros += [rf"\newcommand{{\NumRuns}}{{{len(run_ids)}}}", rf"\newcommand{{\NumSteps}}{{{len(all_runs)}}}",
               rf"\newcommand{{\DataName}}{{{tex_escape(', '.join(data))}}}",
               rf"\newcommand{{\BootstrapReplicates}}{{{REPLICATES:,}}}",
               rf"\newcommand{{\FamilySize}}{{{family_size(all_runs[0][1].profile.iloc[0]) if all_runs else 1}}}",
               rf"\newcommand{{\ProfileNote}}{{{profile_note({str(p) for _, runs in all_runs for p in runs.profile})}}}",
               rf"\newcommand{{\LeftOut}}{{{left_out_sentence(left_out)}}}",
               rf"\newcommand{{\InThisRun}}{{{in_this_run(infos, left_out)}}}",
               rf"\newcommand{{\SeedsWords}}{{{all_seeds_words(infos)}}}"]
    (gen / "numbers.tex").write_text("\n".join(macros) + "\n")
    (gen / "data.tex").write_text(data_section(results, gen, report, ", ".join(data)) + "\n")
    (gen / "experiments.tex").write_text("\n\n".join(experiments) + "\n")
    (gen / "runs.tex").write_text(runs_appendix(all_runs))
    (gen / "closing.tex").write_text(closing_questions(results))
    (gen / "conclusion.tex").write_text(conclusion_tex(
        [(name, info["title"], info["versus"], info["untrained"])
         for (name, _), info in zip(all_runs, infos) if info["versus"] is not None]) + course_summary_tex(brief[1], diagnosed))
    commits = sorted({str(c) for _, runs in all_runs for c in runs.commit})
    atomic_write_text(results / "STAMP", "\n".join([
        f"tables and figures from {len(run_ids)} runs on {', '.join(data)}",
        f"commit(s) of those runs: {', '.join(commits)}",
        f"report generated {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC at commit {git_commit()}", ""]))


def with_sources(report: Path) -> Path:
    """A report folder outside the repository's (a results store of its own, say the demo's) gets the repository's
    main.tex and sections/ first: the same text, its own generated parts and PDF."""
    source = repo_root() / "report"
    if report.resolve() != source.resolve():
        report.mkdir(parents=True, exist_ok=True)
        atomic_write_text(report / "main.tex", (source / "main.tex").read_text())
        staged = Path(tempfile.mkdtemp(prefix=".sections.", dir=report))
        shutil.copytree(source / "sections", staged, dirs_exist_ok=True)
        shutil.rmtree(report / "sections", ignore_errors=True)
        staged.rename(report / "sections")
    return report


def build_pdf(report: Path | None = None) -> Path:
    """latexmk → report/main.pdf; stops with the install command when TeX is missing."""
    report = Path(report or report_dir())
    if not shutil.which("latexmk"):
        raise FileNotFoundError(f"latexmk not found: install TeX Live with `sudo {TEX_INSTALL}` "
                                "(scripts/install_system_deps.sh tex does it as root).")
    build = report / ".build"  # latexmk's files; the PDF replaces report/main.pdf only once it is built whole
    done = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", f"-outdir={build.name}",
                           "main.tex"], cwd=report, capture_output=True, encoding="utf-8", errors="replace")
    if done.returncode != 0 or not (build / "main.pdf").is_file():
        raise RuntimeError(f"latexmk failed (report/main.pdf, if any, is the previous one); see "
                           f"{build / 'main.log'}:\n{done.stdout[-2000:]}")
    os.replace(build / "main.pdf", report / "main.pdf")
    return report / "main.pdf"


def main(argv=None) -> int:
    """0: built (or, with --allow-empty, nothing to report yet); 0 without TeX (the PDF is skipped, said so);
    1: no results, or LaTeX failed."""
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.report", description="Build the report from results/.")
    ap.add_argument("--no-pdf", action="store_true", help="only generate report/generated/")
    ap.add_argument("--allow-empty", action="store_true",
                    help="no study results yet (e.g. only notebook 00 ran): say so and exit 0")
    args = ap.parse_args(argv)
    report = with_sources(report_dir())
    # two builds at once (two run_all.sh) take turns: generated/ and latexmk are shared; and no notebook swaps its
    # tables in while they are read
    with file_lock(report / ".lock"), outputs_lock():
        for stale in report.glob(".generated.*"):  # left by a killed build (none runs while we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            generated = generate(report=report)
        except NothingToReport as e:
            print(f"[report] {e}", file=sys.stderr)
            return 0 if args.allow_empty else 1
        print(f"[report] generated {generated}")
        if args.no_pdf:
            return 0
        if not shutil.which("latexmk"):
            print(f"[report] PDF skipped: latexmk not found (install TeX Live with `sudo {TEX_INSTALL}`; "
                  "scripts/install_system_deps.sh tex does it as root).", file=sys.stderr)
            return 0
        try:
            print(f"[report] built {build_pdf(report)}")
        except RuntimeError as e:
            print(f"[report] {e}", file=sys.stderr)
            return 1
    return 0
