"""The report's sections that are not one experiment's: notebook 03's visual analysis, notebook 12's search study,
and the course reports beside the kit.  Each returns (LaTeX, macros) or None; the first two read which runs they
show from their notebook's params (`name`)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from vpr_lib.brief import AGREEMENTS
from vpr_lib.comparisons import interval
from vpr_lib.config import load_params, report_settings
from vpr_lib.data.layout import SET_LABELS
from vpr_lib.report.tex import (cites, copy_figure, describe_data, figure_tex, placement, plain_table, plural, read_table,
                                tex_escape)
from vpr_lib.results import atomic_write_text
from vpr_lib.seeds import seeds_vs_kit



def knn_section(name: str, results: Path, gen: Path, report: Path) -> tuple[str, list[str]] | None:
    """Notebook 12 (`name`): exact vs approximate search on the test sets and the scaling study, from its tables
    <name>_test_sets and <name>_scaling; (LaTeX, macros), or None before it ran."""
    scaling = read_table(results / "tables" / f"{name}_scaling.csv")
    by_set = read_table(results / "tables" / f"{name}_test_sets.csv")
    if scaling is None or by_set is None:
        return None
    parts = [r"\subsubsection{Exact and approximate nearest-neighbour search}", rf"\label{{sec:{name}}}"]
    if (report / "sections" / f"{name}.tex").is_file():
        parts.append(rf"\input{{sections/{name}}}")
    seeds = by_set.seed.nunique()
    params = load_params(name)
    source = read_table(results / "tables" / f"{params['experiment']}_runs.csv")  # whose descriptors it searched
    info = describe_data(source) if source is not None else None
    where = (f"{info['data']} ({tex_escape(info['profile'])} profile), positives within {info['threshold']} m"
             if info else "positives within 25 m")
    summary = by_set.groupby(["set", "index"], sort=False).agg(
        **{"memory MB": ("memory MB", "mean"), "query ms": ("query ms", "mean"),
           "R@1": ("R@1", lambda v: f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0:.1f}"),
           "R@5": ("R@5", lambda v: f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0:.1f}")}).reset_index()
    summary["set"] = summary["set"].map(lambda rel: SET_LABELS.get(rel, rel))
    summary["memory MB"] = summary["memory MB"].map(lambda v: f"{v:.3f}")
    summary["query ms"] = summary["query ms"].map(lambda v: f"{v:.4f}")
    parts.append(plain_table(summary, f"Exact and approximate search on the test sets with the descriptors of "
                                      f"{plural(seeds, 'trained ' + tex_escape(params['variant']) + ' model')} (one per seed; R@N mean $\\pm$ std over them), {where}: "
                                      "index memory, query time per query on this machine's CPU", f"{name}_test_sets", gen))
    table = scaling[["index", "database", "memory MB", "query ms", "R@1", "% memory saved", "% time saved"]].copy()
    table["database"] = table["database"].map(lambda v: f"{int(v):,}")
    for column, digits in (("memory MB", 1), ("query ms", 3), ("R@1", 1), ("% memory saved", 1), ("% time saved", 1)):
        table[column] = table[column].map(lambda v, d=digits: f"{v:.{d}f}")
    hnsw = scaling[scaling["index"] == "hnsw"].database
    parts.append(plain_table(table, "Scaling study: the SF-XS test database padded with synthetic distractors "
                                    f"(one trained {tex_escape(params['variant'])} model, the first seed's; SF-XS test "
                                    f"queries; {where}); savings relative to exact search of the same size" +
                                    (rf"; HNSW built up to {int(hnsw.max()):,} descriptors (\texttt{{hnsw\_max\_size}})"
                                     if len(hnsw) and hnsw.max() < scaling.database.max() else ""),
                             f"{name}_scaling", gen, wide=True))
    # the scaling figure (notebook 12) repeats this table on log scales: the report shows the table
    parts.insert(3 if parts[2].startswith(r"\input{sections") else 2,
                 cites([(f"tab:{name}_test_sets", "the search on the test sets"),
                        (f"tab:{name}_scaling", "the scaling study")]))
    largest = scaling[scaling.database == scaling.database.max()].set_index("index")
    macros = [rf"\newcommand{{\KnnLargest}}{{{int(largest.database.iloc[0]):,}}}",
              rf"\newcommand{{\KnnHnswLargest}}{{{int(scaling[scaling['index'] == 'hnsw'].database.max()):,}}}"
              if (scaling["index"] == "hnsw").any() else r"\newcommand{\KnnHnswLargest}{0}"]
    if "ivf_pq" in largest.index:
        row = largest.loc["ivf_pq"]
        exact = largest.loc["exact", "R@1"]
        macros += [rf"\newcommand{{\KnnPqMemorySaved}}{{{row['% memory saved']:.1f}}}",
                   rf"\newcommand{{\KnnPqDrop}}{{{exact - row['R@1']:.1f}}}",
                   rf"\newcommand{{\KnnPqDropShare}}{{{100 * (exact - row['R@1']) / exact if exact else 0:.0f}}}",
                   rf"\newcommand{{\KnnPqTimeSaved}}{{{row['% time saved']:.1f}}}",
                   rf"\newcommand{{\KnnPqRone}}{{{row['R@1']:.1f}}}",
                   rf"\newcommand{{\KnnExactRone}}{{{largest.loc['exact', 'R@1']:.1f}}}"]
    return "\n".join(parts), macros


def analysis_section(name: str, results: Path, gen: Path, report: Path) -> tuple[str, list[str]] | None:
    """Notebook 03 (`name`; its outputs are named after its number): prediction grid, heatmaps, recall by condition,
    failure categories (of the last variant it compares); (LaTeX, macros), or None before it ran."""
    shown, number = load_params(name)["compare"][-1], name[:2]
    runs_of = f"{tex_escape(shown)} runs"
    grid = copy_figure(results, gen, f"{number}_grid_sf_xs_test")
    if grid is None:
        return None
    parts = [r"\subsubsection{Visual analysis}", rf"\label{{sec:{name}}}"]
    if (report / "sections" / f"{name}.tex").is_file():
        parts.append(rf"\input{{sections/{name}}}")
    parts.append(figure_tex(grid, f"SF-XS test queries (left) and their top-4 predictions ({tex_escape(shown)}, "
                                  "first seed): green within 25 m, red beyond; labels give rank and distance in "
                                  "metres.", "fig:grid"))
    # the recall-by-time-of-day figure (notebook 03) repeats its table: the report shows the table
    heat = copy_figure(results, gen, f"{number}_heatmaps")
    if heat:
        gem = "; for GeM the per-position sum it averages" if shown.startswith("gem") else ""
        parts.insert(3 if parts[2].startswith(r"\input{sections") else 2,
                     cites([("fig:heatmaps", "the activation heatmaps of a few SF-XS test queries")]))
        parts.append(figure_tex(heat, f"Activation heatmaps over SF-XS test queries ({tex_escape(shown)}, first seed; "
                                      f"norm of the last feature map{gem}).", "fig:heatmaps", wide=True))
    conditions = [table.rename(columns={condition: "value"}).assign(condition=words)
                  for condition, words in (("time_of_day", "time of day"), ("camera", "camera"),
                                           ("viewpoint", "viewpoint"), ("occluders", "occluders (count)"))
                  for table in [read_table(results / "tables" / f"{number}_recall_by_{condition}_{shown}.csv")]
                  if table is not None]  # real data has no camera or occluder column
    label = f"{number}_recall_by_condition"
    macros = [rf"\newcommand{{\ConditionTables}}{{\cref{{tab:{label}}}}}" if conditions
              else r"\newcommand{\ConditionTables}{no table}"]
    if conditions:
        table = pd.concat(conditions, ignore_index=True)
        table["set"] = table["set"].map(lambda rel: SET_LABELS.get(rel, rel))
        table["queries"] = table["queries"].round().astype(int)  # a count, also when averaged over runs
        table = table[["condition", "value", "set", *[c for c in table.columns if c not in ("condition", "value", "set")]]]
        parts.append(plain_table(table, f"R@1 (\\%) by the query's recorded condition ({runs_of}, mean over seeds, its "
                                        "95 \\% interval over seeds and the condition's queries, and the condition's "
                                        "own chance level); viewpoint: the larger of the heading difference to "
                                        "the nearest positive and the camera's tilt", label, gen, group="condition"))
    failures = read_table(results / "tables" / f"{number}_failures_sf_xs_test.csv")
    if failures is not None:  # six columns: across both columns, its text stays readable
        failures["queries"] = failures["queries"].round().astype(int)
        parts.append(plain_table(failures, f"Failure categories on SF-XS test ({runs_of}): queries and their share of all "
                                           "queries, R@1 within the category and its share of all rank-1 failures; "
                                           "categories overlap, and a category of many queries has a large share of "
                                           "the failures whatever its R@1: compare its share of failures with its "
                                           "share of queries", f"{number}_failures_sf_xs_test", gen, wide=True))
    parts.insert(3 if parts[2].startswith(r"\input{sections") else 2,
                 hardest_against_chance(results, shown, number))
    return "\n".join(parts), macros


def hardest_against_chance(results: Path, shown: str, number: str) -> str:
    """A sentence: the condition of lowest R@1 on each test set (the shown variant's tables), its 95 % interval and the
    condition's own chance level, and whether the interval lies below, above or around it; '' without the tables."""
    rows = []
    for condition in ("time_of_day", "camera", "viewpoint", "occluders", "capture_year"):
        table = read_table(results / "tables" / f"{number}_recall_by_{condition}_{shown}.csv")
        if table is not None and {"95% CI", "chance"} <= set(table.columns):
            rows += [{"set": SET_LABELS.get(r["set"], r["set"]), "what": f"{condition.replace('_', ' ')} {r[condition]}",
                      "R@1": float(r["R@1"]), "CI": r["95% CI"], "chance": float(r["chance"]),
                      "queries": int(r["queries"])} for _, r in table.iterrows()]
    said = []
    for test_set, group in (pd.DataFrame(rows).groupby("set", sort=False) if rows else ()):
        worst = group.loc[group["R@1"].idxmin()]
        low, high = interval(worst.CI)
        where = ("below" if high < worst.chance else "above" if low > worst.chance else "within noise of")
        said.append(f"on {tex_escape(test_set)}, {tex_escape(worst.what)} ({worst.queries} queries) at R@1 "
                    f"{worst['R@1']:.1f} {worst.CI}, {where} its own chance level ({worst.chance:.1f})")
    return (r"The hardest condition of each test set for \texttt{" + tex_escape(shown) + "}: " + "; ".join(said) +
            " (95 \\% interval over seeds and that condition's queries; chance: a random ranking of the database for "
            "those queries)." if said else "")


def comparison_title(comparison: str) -> str:
    """'08_optimizers schedulers' → 'Optimizers and schedulers: schedulers' (the notebook's report title)."""
    notebook, _, part = comparison.partition(" ")
    title = (report_settings(notebook) or {}).get("title", notebook)
    return f"{title}: {part}" if part else title


def seeds_section(results: Path, gen: Path, report: Path) -> tuple[str, list] | None:
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
    shown["comparison"] = shown["comparison"].map(comparison_title)
    low, high = table["kit seeds"].min(), table["kit seeds"].max()
    seed_range = f"{low}" if low == high else f"{low} to {high}"
    parts += [plain_table(shown, f"The same comparisons in the course's reports (their own data, backbone and "
                                 f"training; rank 1 = best within the comparison) and in this study "
                                 f"({seed_range} seeds, the results store's runs)",
                          "seeds_vs_kit", gen, wide=True)]  # no float barrier: the conclusion fills the column
    others = []
    for comparison, group in table.groupby("comparison", sort=False):
        if best[comparison]:
            continue
        for _, row in group[group["report rank"] == 1].iterrows():
            others.append(rf"{tex_escape(comparison_title(comparison))}: the report's best, "
                          rf"\texttt{{{tex_escape(row['variant'])}}}, ranks {int(row['kit rank'])} of {len(group)} here")
    macros = [rf"\newcommand{{\SeedsComparisons}}{{{len(best)}}}",
              rf"\newcommand{{\SeedsSameBest}}{{{int(best.sum())}}}",
              rf"\newcommand{{\SeedsOtherBest}}{{{'; '.join(others) + '.' if others else ''}}}"]
    atomic_write_text(results / "tables" / "seeds_vs_kit.csv", table.to_csv(index=False))
    return "\n".join(parts), macros


AGREEMENT_WORDS = (r"\emph{agree}: the kit decides the report's direction (the sizes differ with the regime: both are "
                   r"given); \emph{disagree}: it decides the other direction; \emph{disagree in size}: it decides "
                   r"neither, and its 95\,\% interval (uncorrected) excludes the report's difference; \emph{kit within "
                   r"noise}: it decides neither and its interval holds the report's difference")


def _unbroken(text: str) -> str:
    """Escaped text whose '(+9.0)', 'SF-XS test +9.0' and identifiers do not break across lines."""
    text = re.sub(r"\(([+-]?\d+\.\d)\)", r"\\mbox{(\1)}", tex_escape(text))
    text = re.sub(r"((?:SF-XS val|SF-XS test|Tokyo-XS|Pitts30k) [+-]\d+\.\d)", r"\\mbox{\1}", text)
    return re.sub(r"([A-Za-z0-9]+(?:\\_[A-Za-z0-9]+)+)", r"\\mbox{\1}", text)


def brief_section(brief: tuple[pd.DataFrame, pd.DataFrame], gen: Path, ranked: dict | None = None) -> str | None:
    """The results' opening: the brief step by step (brief_table's steps and pairs), the kit's answer beside the
    course reports' and whether they agree, as a table across both columns."""
    steps, pairs = brief
    if steps.empty:
        return None
    rows = [" & ".join([tex_escape(r.step), tex_escape(f"{r.title}: {r.question}"), _unbroken(r.kit),
                        _unbroken(r.course), tex_escape(r.agreement)]) + r" \\" for r in steps.itertuples()]
    column = r">{\raggedright\arraybackslash}p"
    (gen / "tables" / "brief.tex").write_text("\n".join([
        r"\begin{table*}" + placement("table*"), r"\centering\scriptsize\setlength{\tabcolsep}{3pt}",
        r"\caption{The brief step by step: the kit's answer on SynthCity's test sets (R@1 difference to each notebook's "
        r"baseline, points; verdicts by the study's one rule), the course reports' and lecture's difference for the "
        r"same pairs (single runs on the real sets, no interval; a report on other sets only is set beside the kit's "
        r"SF-XS test on its first set, such as Pitts30k, for its direction only), and their agreement (the words as the text defines "
        r"them). Steps 2 "
        r"and 3 compare one model on two sets (SF-XS val selects the checkpoint; different queries; a report's numbers "
        r"on two sets may come from separate trainings): only the "
        r"direction of the difference is compared, untested.}", r"\label{tab:brief}",
        rf"\begin{{tabular}}{{@{{}}{column}{{0.03\textwidth}}{column}{{0.16\textwidth}}{column}{{0.39\textwidth}}"
        rf"{column}{{0.26\textwidth}}{column}{{0.09\textwidth}}@{{}}}}",
        r"\toprule", r"Step & The brief asks & The kit finds & The course reports & Agreement \\", r"\midrule",
        *rows, r"\bottomrule", r"\end{tabular}", r"\end{table*}", ""]))
    counts = pairs.agreement.value_counts() if not pairs.empty else {}
    said = ", ".join(f"{counts[w]} {w}" for w in AGREEMENTS if w in counts)
    return (r"\paragraph{The brief, step by step.} \Cref{tab:brief} sets the kit's answer to each step of the course's "
            r"brief beside the course reports' numbers for the same comparisons" +
            (f" (of the {len(pairs)} variant comparisons a report also makes: {said}; steps 2 and 3 apart)"
             if said else "") +
            r"; the sections below give each step's tables and findings. The agreement words: " + AGREEMENT_WORDS +
            "." + _left_out(steps.attrs.get("left out", {}), ranked or {}) +
            (f" The pairs draw on the {steps.attrs['transcribed']} R@1 numbers the kit transcribes from the reports "
             r"(\texttt{docs/seeds\_reference.csv}, each with its source table); a report's other comparisons are not "
             "transcribed." if steps.attrs.get("transcribed") else "") + "\n" + r"\input{generated/tables/brief}")


def _left_out(left_out: dict, ranked: dict) -> str:
    """' Not in the table: …' (brief_table's comparisons a report makes that no pair holds; the variants of each that
    `ranked`, {(report, comparison): variants} of the seeds table, ranks say so), or ''."""
    def named(found: list[dict], rank: bool = True) -> str:  # rank: say which the seeds table ranks (its test set)
        return "; ".join(f"{tex_escape(b['source'])}: " + ", ".join(rf"\texttt{{{tex_escape(v)}}}" for v in b["variants"]) +
                         _ranked([v for v in b["variants"] if rank and v in ranked.get((b["source"], b["comparison"]), ())])
                         for b in found)
    said = []
    if left_out.get("baselines"):
        said.append(f"the comparisons a report makes without a number for the kit's baseline ({named(left_out['baselines'])})")
    if left_out.get("variants"):
        said.append(f"a report's variants that the kit does not compare here: not run, descriptive, or without a "
                    f"report number on the set compared ({named(left_out['variants'])})")
    if left_out.get("selection"):
        said.append(f"a report's SF-XS val numbers, the kit's selection set, not tested ({named(left_out['selection'], rank=False)})")
    if left_out.get("sets"):
        said.append("a report's sets after the first when none is the kit's (" +
                    ", ".join(tex_escape(s) for s in dict.fromkeys(left_out["sets"])) + ")")
    return f" Not in the table: {'; '.join(said[:-1]) + '; and ' if len(said) > 1 else ''}{said[-1]}." if said else ""


def _ranked(variants: list[str]) -> str:
    return (" (" + ", ".join(rf"\texttt{{{tex_escape(v)}}}" for v in variants) + r" ranked in \cref{tab:seeds_vs_kit})"
            if variants else "")


def closing_questions(results: Path) -> str:
    """The brief's two closing questions, answered in general and with this run's own evidence where it has it:
    training against epoch 0 (01), and mining's cost and gain (10, 05)."""
    tables = results / "tables"
    contrastive = [r"\paragraph{What is contrastive learning, and how does it relate to retrieval?} It learns an "
                   r"embedding in which images of the same place lie close and images of different places far apart: "
                   r"a loss on pairs (contrastive: pull positives together, push negatives beyond a margin) or "
                   r"triplets (an anchor nearer its positive than its negative by a margin). Retrieval is then a "
                   r"nearest-neighbour search in that space, which is exactly the geometry the loss shapes."]
    summary = read_table(tables / "01_baseline_summary.csv")
    if summary is not None and "SF-XS test R@1 at epoch 0" in summary:
        row = summary.iloc[0]
        contrastive.append(rf"Here the contrastive loss takes the starter from {tex_escape(row['SF-XS test R@1 at epoch 0'])} "
                           rf"R@1 on SF-XS test before training to {tex_escape(row['SF-XS test R@1'])} "
                           rf"(\cref{{sec:01_baseline}}).")
    mining = [r"\paragraph{What does mining mean, and what are its downsides?} Mining chooses which pairs or triplets "
              r"the loss sees: those the model still gets wrong, since easy ones contribute little. Its costs: "
              r"offline mining must describe a large pool of images to find hard negatives, and refreshes them only "
              r"periodically (stale descriptors); online mining sees only the batch; and the hardest negatives "
              r"include mislabelled or ambiguous images, which can mislead training."]
    times, versus = read_table(tables / "10_mining_time.csv"), read_table(tables / "10_mining_versus.csv")
    if times is not None and versus is not None:
        times, versus = times.set_index("variant"), versus.set_index("variant")
        said = []
        for variant in [v for v in versus.index if v in times.index]:
            said.append(rf"\texttt{{{tex_escape(variant)}}} spends {times.loc[variant, 'mining share (%)']:.1f}\,\% of "
                        rf"its training epoch mining and gives {versus.loc[variant, 'SF-XS test Δ R@1']:+.1f} R@1 on "
                        rf"SF-XS test ({tex_escape(versus.loc[variant, 'SF-XS test verdict'])})")
        base = times.index[0]
        if said:
            mining.append(rf"In this study (\cref{{sec:10_mining}}), against random negatives (\texttt{{{tex_escape(base)}}}, "
                          rf"{times.loc[base, 'mining share (%)']:.1f}\,\% of its epoch): " + "; ".join(said) + ".")
        epochs = read_table(tables / "10_mining_epochs.csv")
        if epochs is not None and "described_images" in epochs:  # unrounded: the per-epoch rows of every seed
            trained = epochs[epochs.epoch > 0].groupby("variant", sort=False)[["mining_s", "described_images"]].mean()
            per_image = [rf"\texttt{{{tex_escape(v)}}} {r.described_images:,.0f} images, "
                         rf"{1000 * r.mining_s / r.described_images:.2f} ms each" for v, r in trained.iterrows()]
            mining.append(rf"Random negatives are not free here: the best positive of each query still comes from "
                          rf"descriptors, so every mining describes images at each refresh (per epoch: "
                          + "; ".join(per_image) + ").")
    mixvpr = read_table(tables / "14_mixvpr_losses_versus.csv")
    if mixvpr is not None and "multisimilarity_none" in set(mixvpr.variant):
        row = mixvpr.set_index("variant").loc["multisimilarity_none"]
        lead = ("Online mining is no free gain either" if "better" in {row["SF-XS test verdict"], row["Tokyo-XS verdict"]}
                else "Online mining")
        mining.append(rf"{lead}: on MixVPR (\cref{{sec:14_mixvpr_losses}}), the "
                      rf"MultiSimilarity loss without its miner gives {row['SF-XS test Δ R@1']:+.1f} R@1 on SF-XS test "
                      rf"({tex_escape(row['SF-XS test verdict'])}) and {row['Tokyo-XS Δ R@1']:+.1f} on Tokyo-XS "
                      rf"({tex_escape(row['Tokyo-XS verdict'])}) against the same loss with it.")
    return "\n".join([" ".join(contrastive), "", " ".join(mining), ""])
