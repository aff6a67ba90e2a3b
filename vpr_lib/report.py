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
from pathlib import Path

import pandas as pd

from vpr_lib.analysis import stalled_variants
from vpr_lib.datasets import TEST_SETS
from vpr_lib.paths import repo_root, results_dir
from vpr_lib.report_tex import (TEX_INSTALL, caption_of, plural, describe_data, epoch_tex, figure_tex, macros_tex,
                                plain_table, progress_tex, runs_appendix, table_tex, tex_escape)
from vpr_lib.report_data import data_section
from vpr_lib.report_findings import conclusion_tex, read_versus, step_findings_tex
from vpr_lib.results import atomic_write_text, git_commit, run_lock
from vpr_lib.seeds import seeds_vs_kit
from vpr_lib.stats import REPLICATES

SET_LABELS = {rel: name for name, rel in TEST_SETS.items()}  # sf_xs/test -> SF-XS test

# The study's steps, in report order: notebook, section title, what its table compares.
STEPS = [
    ("01_baseline", "The starter configuration", "the course's starter (average pooling + Linear, contrastive loss)"),
    ("02_gem", "GeM pooling", "average pooling vs GeM"),
    ("03_visual_analysis", None, None),  # no runs of its own: a section of its own (_analysis_section)
    ("04_losses", "Losses", "metric-learning and classification losses"),
    ("05_miners", "Miners", "miners on the contrastive loss"),
    ("06_samplers", "Samplers", "batch samplers"),
    ("07_mixvpr", "Aggregators", "aggregation layers on the same trunk"),
    ("08_optimizers", "Optimizers and schedulers", "optimizers and schedulers"),
    ("09_heads", "NetVLAD-family heads", "NetVLAD-family heads and the CosPlace head (GeM + Linear)"),
    ("10_mining", "Offline triplet mining", "random, full and partial mining"),
    ("11_ablations", "Ablations", "one change at a time on the starter"),
    ("12_knn", None, None),  # no runs of its own (_knn_section)
    ("13_self_supervised", "Self-supervised training", "NT-Xent with and without place labels"),
]
# Steps whose summary splits into several tables: (label, regular expression on the variant names).
TABLE_GROUPS = {
    "08_optimizers": [("optimizers at Sajjadi et al.'s report's settings (none: the profile's own optimizer)",
                       r"(none|sgd|adam|adamw|asgd)"),
                      ("SGD learning rates", r"sgd(_lr.*)?"),
                      ("schedulers", r"(none|cosine|plateau|multistep.*)"),
                      ("AdamW learning rate x weight decay", r"adamw_lr.*")],
}
# Tables and figures of a step beyond its summary, curves and bars: (name in results/, caption).
EXTRA_TABLES = {
    "09_heads": [("09_heads_costs", "Cost of each head per image: descriptor size, parameters, FLOPs (torch's "
                                    "FlopCounterMode) and extraction time measured on this machine's CPU")],
    "10_mining": [("10_mining_time", "Seconds per training epoch (mining included, validation excluded) and of the "
                                     "mining alone, mean $\\pm$ std over epochs and seeds, on this machine")],
}
EXTRA_FIGURES = {
    "09_heads": [("09_heads_assignments", "Dominant NetVLAD cluster per position of the last feature map, and "
                                          "the context masks of the CRN heads that ran, over SF-XS test queries "
                                          "(seed 0).")],
    "10_mining": [("10_mining_time", "Seconds per epoch spent mining and training, per mining method."),
                  ("10_mining_train_thresholds", "Test R@1 against the positive radius used at training time "
                                                 "(partial mining; testing counts 25 m); error bars: $\\pm$ one "
                                                 "std over seeds.")],
    "11_ablations": [("11_ablations_thresholds", "R@1 of the baseline runs when a prediction counts as correct "
                                                 "within 5, 10, 25 or 50 m at test time, re-scored from the saved "
                                                 "predictions; error bars: $\\pm$ one std over seeds.")],
}
def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


def _copy_figure(results: Path, gen: Path, name: str) -> str | None:
    source = results / "figures" / f"{name}.png"
    if not source.is_file():
        return None
    (gen / "figures").mkdir(exist_ok=True)
    shutil.copyfile(source, gen / "figures" / source.name)
    return f"generated/figures/{source.name}"


def table_groups(name: str, summary: pd.DataFrame):
    """(file suffix, label, rows) of each table of a step: one table, or one per group of TABLE_GROUPS that has
    results (a variant may appear in several groups, e.g. SGD among optimizers and learning rates)."""
    if name not in TABLE_GROUPS:
        return [("", None, summary)]
    groups, chance = [], summary[summary.variant == "chance"]  # the chance row goes with every group
    for i, (label, pattern) in enumerate(TABLE_GROUPS[name]):
        rows = summary[summary.variant.astype(str).str.fullmatch(pattern) & (summary.variant != "chance")]
        if len(rows) > (1 if i else 0):  # a group of one row compares nothing
            groups.append((f"_{i + 1}", label, pd.concat([rows, chance])))
    return groups


def _step_section(name: str, title: str, what: str, results: Path, gen: Path, report: Path):
    """The subsection of one notebook, its macros and its runs; None when it has no results."""
    summary = _read(results / "tables" / f"{name}_summary.csv")
    runs = _read(results / "tables" / f"{name}_runs.csv")
    if summary is None or runs is None:
        return None
    info = describe_data(runs)
    parts = [rf"\subsection{{{title}}}", rf"\label{{sec:{name}}}"]
    if (report / "sections" / f"{name}.tex").is_file():
        parts.append(rf"\input{{sections/{name}}}")
    for suffix, label, rows in table_groups(name, summary):
        (gen / "tables" / f"{name}{suffix}.tex").write_text(table_tex(
            rows, caption_of(f"Recalls: {label or what}", info), f"tab:{name}{suffix}"))
        parts.append(rf"\input{{generated/tables/{name}{suffix}}}")
    epochs = _read(results / "tables" / f"{name}_epochs.csv")
    if epochs is not None:
        parts.append(progress_tex(*stalled_variants(epochs)))
    if name == "02_gem" and epochs is not None:
        (gen / "tables" / f"{name}_epochs.tex").write_text(epoch_tex(
            epochs, caption_of(f"SF-XS val R@1 per epoch (epoch 0 = before training): {what}", info, baselines=False),
            f"tab:{name}_epochs"))
        parts.append(rf"\input{{generated/tables/{name}_epochs}}")
    for figure, caption in ((f"{name}_val_curves", f"SF-XS val R@1 per epoch, {what}; shaded: $\\pm$ one std "
                                                   f"over {plural(info['seeds'], 'seed')}, {info['data']}."),
                            (f"{name}_bars", f"Test R@1, {what}; error bars: $\\pm$ one std over "
                                             f"{plural(info['seeds'], 'seed')}, {info['data']}.")):
        path = _copy_figure(results, gen, figure)
        if path:
            parts.append(figure_tex(path, caption, f"fig:{figure}", wide=figure.endswith("_bars")))
    for table_name, caption in EXTRA_TABLES.get(name, []):
        table = _read(results / "tables" / f"{table_name}.csv")
        if table is not None:
            parts.append(plain_table(table, caption, table_name, gen))
    for figure, caption in EXTRA_FIGURES.get(name, []):
        path = _copy_figure(results, gen, figure)
        if path:
            parts.append(figure_tex(path, caption, f"fig:{figure}"))
    versus = read_versus(results / "tables" / f"{name}_versus.csv")
    if versus is not None:
        parts.append(step_findings_tex(versus))
    macros = macros_tex(name, summary, versus.reset_index() if versus is not None else None)
    below, stalled, _ = stalled_variants(epochs) if epochs is not None else ([], [], 0)
    untrained = {v for v, _, _ in below + stalled}
    return "\n".join(parts), macros, runs, {**info, "versus": versus, "title": title, "untrained": untrained}


def _knn_section(results: Path, gen: Path, report: Path) -> str | None:
    """Notebook 12: exact vs approximate search on the test sets and the scaling study."""
    scaling = _read(results / "tables" / "12_knn_scaling.csv")
    by_set = _read(results / "tables" / "12_knn_test_sets.csv")
    if scaling is None or by_set is None:
        return None
    parts = [r"\subsection{Exact and approximate nearest-neighbour search}", r"\label{sec:12_knn}"]
    if (report / "sections" / "12_knn.tex").is_file():
        parts.append(r"\input{sections/12_knn}")
    seeds = by_set.seed.nunique()
    source = _read(results / "tables" / "02_gem_runs.csv")  # whose descriptors notebook 12 searched
    info = describe_data(source) if source is not None else None
    where = (f"{info['data']} ({tex_escape(info['profile'])} profile), positives within {info['threshold']} m"
             if info else "positives within 25 m")
    summary = by_set.groupby(["set", "index"], sort=False).agg(
        **{"memory MB": ("memory MB", "mean"), "query ms": ("query ms", "mean"),
           "R@1": ("R@1", lambda v: f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0:.1f}"),
           "R@5": ("R@5", lambda v: f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0:.1f}")}).reset_index()
    summary["memory MB"] = summary["memory MB"].map(lambda v: f"{v:.3f}")
    summary["query ms"] = summary["query ms"].map(lambda v: f"{v:.4f}")
    parts.append(plain_table(summary, f"Exact and approximate search on the test sets with the descriptors of "
                                      f"{plural(seeds, 'trained GeM model')} (one per seed; R@N mean $\\pm$ std over them), {where}: "
                                      "index memory, query time per query on this machine's CPU", "12_knn_test_sets", gen))
    table = scaling[["index", "database", "memory MB", "query ms", "R@1", "% memory saved", "% time saved"]].copy()
    table["database"] = table["database"].map(lambda v: f"{int(v):,}")
    for column, digits in (("memory MB", 1), ("query ms", 3), ("R@1", 1), ("% memory saved", 1), ("% time saved", 1)):
        table[column] = table[column].map(lambda v, d=digits: f"{v:.{d}f}")
    parts.append(plain_table(table, "Scaling study: the SF-XS test database padded with synthetic distractors "
                                    f"(one trained model, SF-XS test queries; {where}); savings relative to exact "
                                    "search of the same size", "12_knn_scaling", gen))
    figure = _copy_figure(results, gen, "12_knn_scaling")
    if figure:
        parts.append(figure_tex(figure, "Memory and query time (log scales) and R@1 against database size.",
                                "fig:12_knn_scaling", wide=True))
    largest = scaling[scaling.database == scaling.database.max()].set_index("index")
    macros = [rf"\newcommand{{\KnnLargest}}{{{int(largest.database.iloc[0]):,}}}",
              rf"\newcommand{{\KnnHnswLargest}}{{{int(scaling[scaling['index'] == 'hnsw'].database.max()):,}}}"
              if (scaling["index"] == "hnsw").any() else r"\newcommand{\KnnHnswLargest}{0}"]
    if "ivf_pq" in largest.index:
        row = largest.loc["ivf_pq"]
        macros += [rf"\newcommand{{\KnnPqMemorySaved}}{{{row['% memory saved']:.1f}}}",
                   rf"\newcommand{{\KnnPqTimeSaved}}{{{row['% time saved']:.1f}}}",
                   rf"\newcommand{{\KnnPqRone}}{{{row['R@1']:.1f}}}",
                   rf"\newcommand{{\KnnExactRone}}{{{largest.loc['exact', 'R@1']:.1f}}}"]
    parts.append(r"\FloatBarrier")
    return "\n".join(parts), macros


def _analysis_section(results: Path, gen: Path, report: Path) -> str | None:
    """Notebook 03: prediction grid, heatmaps, recall by time of day, failure categories."""
    grid = _copy_figure(results, gen, "03_grid_sf_xs_test")
    if grid is None:
        return None
    parts = [r"\subsection{Visual analysis}", r"\label{sec:03_visual_analysis}"]
    if (report / "sections" / "03_visual_analysis.tex").is_file():
        parts.append(r"\input{sections/03_visual_analysis}")
    parts.append(figure_tex(grid, "SF-XS test queries (left) and their top-4 predictions: green within 25 m, "
                                  "red beyond; labels give rank and distance in metres.", "fig:grid"))
    by_time = _copy_figure(results, gen, "03_recall_by_time_of_day")
    if by_time:
        parts.append(figure_tex(by_time, "R@1 by the query's time of day on each test set (GeM runs, mean over "
                                         "seeds).", "fig:recall_by_time"))
    heat = _copy_figure(results, gen, "03_heatmaps")
    if heat:
        parts.append(figure_tex(heat, "Activation heatmaps over SF-XS test queries (norm of the last feature "
                                      "map; for GeM the per-position sum it averages).", "fig:heatmaps", wide=True))
    for table_name, caption in (("03_recall_by_time_of_day_gem", "R@1 (\\%) by the query's time of day (GeM runs, "
                                                                 "mean over seeds)"),
                                ("03_failures_sf_xs_test", "Failure categories on SF-XS test (GeM runs): queries, "
                                                           "R@1 within the category and its share of all rank-1 "
                                                           "failures; categories overlap")):
        table = _read(results / "tables" / f"{table_name}.csv")
        if table is not None:
            table = table.rename(columns=lambda c: c.replace("_", " "))  # readable headings: time of day
            if "set" in table:
                table["set"] = table["set"].map(lambda rel: SET_LABELS.get(rel, rel))
            if "queries" in table:
                table["queries"] = table["queries"].round().astype(int)  # a count, also when averaged over runs
            parts.append(plain_table(table, caption, table_name, gen))
    return "\n".join(parts), []


def _seeds_section(results: Path, gen: Path, report: Path) -> tuple[str, list] | None:
    """The course reports' numbers beside the kit's (vpr_lib.seeds), and how often their best variant agrees."""
    table = seeds_vs_kit(results)
    if table.empty:
        return None
    best = table.groupby("comparison", sort=False).apply(
        lambda g: set(g.variant[g["report rank"] == 1]) & set(g.variant[g["kit rank"] == 1]) != set())
    parts = [r"\subsection{The course reports beside the kit}", r"\label{sec:seeds_vs_kit}"]
    if (report / "sections" / "seeds_vs_kit.tex").is_file():
        parts.append(r"\input{sections/seeds_vs_kit}")
    kit = [c for c in table.columns if c.startswith("kit ") and "R@" in c][0]
    shown = table.drop(columns=["kit seeds"]).rename(columns={kit: f"{kit} (mean ± std)"})
    parts += [plain_table(shown, f"The same comparisons in the course's reports (their own data, backbone and "
                                 f"training; rank 1 = best within the comparison) and in this study "
                                 f"({table['kit seeds'].min()}+ seeds, the results store's runs)",
                          "seeds_vs_kit", gen, wide=True), r"\FloatBarrier"]
    macros = [rf"\newcommand{{\SeedsComparisons}}{{{len(best)}}}",
              rf"\newcommand{{\SeedsSameBest}}{{{int(best.sum())}}}"]
    atomic_write_text(results / "tables" / "seeds_vs_kit.csv", table.to_csv(index=False))
    return "\n".join(parts), macros


class NothingToReport(FileNotFoundError):
    """No notebook has written study results yet."""


def generate(results: Path | None = None, report: Path | None = None) -> Path:
    """report/generated/: experiments.tex (the sections with results), numbers.tex (macros), runs.tex
    (appendix), tables/ and figures/.  Rebuilt in a temporary folder, then swapped in."""
    results, report = Path(results or results_dir()), Path(report or repo_root() / "report")
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
    sections, macros, all_runs, infos = [], [], [], []
    for name, title, what in STEPS:
        if title is None:
            special = {"03_visual_analysis": _analysis_section, "12_knn": _knn_section}[name](results, gen, report)
            if special:
                sections.append(special[0])
                macros += special[1]
            continue
        step = _step_section(name, title, what, results, gen, report)
        if step is not None:
            text, step_macros, runs, info = step
            sections.append(text)
            macros += step_macros
            all_runs.append((name, runs))
            infos.append(info)
    seeds = _seeds_section(results, gen, report)
    if seeds:
        sections.append(seeds[0])
        macros += seeds[1]
    if not sections:
        raise NothingToReport(f"No results to report under {results / 'tables'}: run ./run_all.sh first.")
    run_ids = {r for _, runs in all_runs for r in runs.run_id}
    data = sorted({i["data"] for i in infos})
    macros += [rf"\newcommand{{\NumRuns}}{{{len(run_ids)}}}", rf"\newcommand{{\NumSteps}}{{{len(all_runs)}}}",
               rf"\newcommand{{\DataName}}{{{tex_escape(', '.join(data))}}}",
               rf"\newcommand{{\BootstrapReplicates}}{{{REPLICATES:,}}}",
               rf"\newcommand{{\MinSeeds}}{{{plural(min(i['seeds'] for i in infos), 'seed')}}}"]
    (gen / "numbers.tex").write_text("\n".join(macros) + "\n")
    (gen / "data.tex").write_text(data_section(results, gen, report, ", ".join(data)) + "\n")
    (gen / "experiments.tex").write_text("\n\n".join(sections) + "\n")
    (gen / "runs.tex").write_text(runs_appendix(all_runs))
    (gen / "conclusion.tex").write_text(conclusion_tex(
        [(name, info["title"], info["versus"], info["untrained"])
         for (name, _), info in zip(all_runs, infos) if info["versus"] is not None]))
    commits = sorted({str(c) for _, runs in all_runs for c in runs.commit})
    atomic_write_text(results / "STAMP", "\n".join([
        f"tables and figures from {len(run_ids)} runs on {', '.join(data)}",
        f"commit(s) of those runs: {', '.join(commits)}",
        f"report generated {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC at commit {git_commit()}", ""]))


def build_pdf(report: Path | None = None) -> Path:
    """latexmk → report/main.pdf; stops with the install command when TeX is missing."""
    report = Path(report or repo_root() / "report")
    if not shutil.which("latexmk"):
        raise FileNotFoundError(f"latexmk not found: install TeX Live with `sudo {TEX_INSTALL}` "
                                "(scripts/install_system_deps.sh tex does it as root).")
    done = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
                          cwd=report, capture_output=True, encoding="utf-8", errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"latexmk failed; see {report / 'main.log'}:\n{done.stdout[-2000:]}")
    return report / "main.pdf"


def main(argv=None) -> int:
    """0: built (or, with --allow-empty, nothing to report yet); 0 without TeX (the PDF is skipped, said so);
    1: no results, or LaTeX failed."""
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.report", description="Build the report from results/.")
    ap.add_argument("--no-pdf", action="store_true", help="only generate report/generated/")
    ap.add_argument("--allow-empty", action="store_true",
                    help="no study results yet (e.g. only notebook 00 ran): say so and exit 0")
    args = ap.parse_args(argv)
    report = repo_root() / "report"
    with run_lock(report):  # two builds at once (two run_all.sh) take turns: generated/ and latexmk are shared
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


if __name__ == "__main__":
    sys.exit(main())
