"""LaTeX pieces of the report: escaping, booktabs tables (best mean in bold), figures, captions, the result
macros and the run appendix.  Pure formatting: vpr_lib.report decides what goes where."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from vpr_lib.stats import cell_mean
from vpr_lib.analysis import STALLED_POINTS
from vpr_lib.comparisons import DESCRIPTIVE, p_words, verdict_words
from vpr_lib.data.layout import TEST_SETS
from vpr_lib.experiments import EPOCH0
from vpr_lib.runs import Run
from vpr_lib.viz.curves import epoch_table

SET_NAMES = tuple(TEST_SETS)  # the headings of a summary's column groups
TEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
TEX_INSTALL = ("apt-get install -y --no-install-recommends texlive-latex-base texlive-latex-recommended "
               "texlive-latex-extra texlive-science texlive-fonts-recommended latexmk poppler-utils")


def placement(env: str) -> str:
    """A float's placement: a column float wherever it fits; one across both columns at a page's top within
    \\dbltopfraction (main.tex), so that text keeps a share of the page, or on a float page."""
    return "[tbp]" if env.endswith("*") else "[!htbp]"


def tex_escape(text) -> str:
    """A string from params or results, safe in LaTeX text ('circle_sgd', '0.34%')."""
    return "".join(TEX_SPECIALS.get(ch, ch) for ch in str(text)).replace("±", r"$\pm$").replace("Δ", r"$\Delta$")


def table_tex(summary: pd.DataFrame, caption: str, label: str, baseline_columns: tuple = ()) -> str:
    """A booktabs table of 'mean ± std' cells (variants as rows), the best mean of each column in bold, except in
    baseline columns (the '… at epoch 0' ones and `baseline_columns`: a baseline has no best)."""
    columns = [c for c in summary.columns if c != "variant"]
    trained = [c for c in columns if "epoch 0" not in c and c not in baseline_columns]
    best = {c: summary[summary.variant != "chance"][c].map(cell_mean).max() for c in trained}
    groups, metric = {}, {}  # set → its columns, in order; column → its heading under the set
    for c in columns:
        test_set = next((s for s in SET_NAMES if c.startswith(s + " ")), c.rsplit(" ", 1)[0])
        groups.setdefault(test_set, []).append(c)
        metric[c] = c[len(test_set):].strip().replace(" at epoch 0", ", epoch 0")
    head1, rules, start = [], [], 2
    for name, cols in groups.items():
        head1.append(rf"\multicolumn{{{len(cols)}}}{{c}}{{{tex_escape(name)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + len(cols) - 1}}}")
        start += len(cols)
    head1, rules = " & ".join(head1), " ".join(rules)
    head2 = " & ".join(tex_escape(metric[c]) for c in columns)
    rows = []
    for _, row in summary.iterrows():
        cells = [rf"\textbf{{{tex_escape(row[c])}}}" if c in best and row["variant"] != "chance"
                 and cell_mean(row[c]) >= best[c] else tex_escape(row[c]) for c in columns]
        rows.append(" & ".join([tex_escape(row["variant"])] + cells) + r" \\")
    # more than 4 value columns span both columns of the page, at body size (shrunk only if still too wide)
    env, width = ("table*", r"\textwidth") if len(columns) > 4 else ("table", r"\columnwidth")
    return "\n".join([
        rf"\begin{{{env}}}{placement(env)}", r"\centering", rf"\caption{{{caption}}}", rf"\label{{{label}}}",
        rf"\resizebox{{\ifdim\width>{width}{width}\else\width\fi}}{{!}}{{%",
        rf"\begin{{tabular}}{{l{'c' * len(columns)}}}", r"\toprule",
        rf" & {head1} \\", rules, rf"variant & {head2} \\", r"\midrule", *rows, r"\bottomrule",
        r"\end{tabular}}", rf"\end{{{env}}}", ""])


def epoch_tex(epochs: pd.DataFrame, caption: str, label: str) -> str:
    """Validation R@1 per epoch (mean ± std over seeds), as Sajjadi et al.'s report's table 1."""
    table = epoch_table(epochs).reset_index()
    return table_tex(table.rename(columns={c: f"SF-XS val {c.replace(' ', '')}" for c in table.columns
                                           if c != "variant"}), caption, label, baseline_columns=("SF-XS val ep0",))


def figure_tex(path: str, caption: str, label: str, wide: bool = False) -> str:
    env = "figure*" if wide else "figure"
    width = r"0.9\textwidth" if wide else r"\columnwidth"
    return "\n".join([rf"\begin{{{env}}}{placement(env)}", r"\centering", rf"\includegraphics[width={width}]{{{path}}}",
                      rf"\caption{{{caption}}}", rf"\label{{{label}}}", rf"\end{{{env}}}", ""])


def describe_data(runs: pd.DataFrame) -> dict:
    """Profile, data, seeds and threshold of a notebook's runs (columns of its runs table)."""
    missing = {"profile", "data", "threshold_m", "commit", "run_id"} - set(runs.columns)
    if missing:
        raise FileNotFoundError(f"The runs table lacks {sorted(missing)}: re-run ./run_all.sh to refresh results/tables.")
    seeds = runs.groupby("variant", sort=False).seed.nunique()
    fewer = {variant: int(n) for variant, n in seeds.items() if n < seeds.max()}
    return {"data": ", ".join(sorted(runs.data.unique())), "profile": "/".join(sorted(runs.profile.unique())),
            "seeds": int(seeds.max()), "fewer_seeds": fewer,
            "variant_runs": {v: tuple(sorted(g.run_id)) for v, g in runs.groupby("variant", sort=False)},
            "threshold": runs.threshold_m.iloc[0]}


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def seeds_words(info: dict) -> str:
    """'3 seeds', or '3 seeds (starter_scratch: 1 seed)' when a variant ran fewer."""
    fewer = "; ".join(rf"\texttt{{{tex_escape(v)}}}: {plural(n, 'seed')}" for v, n in info.get("fewer_seeds", {}).items())
    return plural(info["seeds"], "seed") + (f" ({fewer})" if fewer else "")


def caption_of(what: str, info: dict, baselines: bool = True, rows: pd.DataFrame | None = None,
               metric: str = "R@N", per_epoch: bool = False) -> str:
    """A recall table's caption (`metric`: the recall it shows; `per_epoch`: its columns are epochs, epoch 0 left out
    of the bold as table_tex's baseline column); `rows` (the table) adds what a ± 0.0 at epoch 0 means when one is
    shown."""
    seeds = seeds_words(info)
    start = [c for c in (rows.columns if rows is not None else []) if c.endswith(EPOCH0)]
    same_start = any(str(v).endswith("± 0.0") for c in start for v in rows[c])
    return (f"{tex_escape(what)}. {metric} (\\%), mean $\\pm$ std over {seeds}; {info['data']} "
            f"({tex_escape(info['profile'])} profile), positives within {info['threshold']} m. " +
            ("Epoch 0: each variant before training; chance: the exact expectation of a random ranking. "
             if baselines else "") +
            ("$\\pm$ 0.0 at epoch 0: every seed's initial model gave the same recall on that set. " if same_start
             else "") +
            ("Best mean per column in bold (epoch 0 apart)." if start or per_epoch else "Best mean per column in bold."))


def macros_tex(name: str, summary: pd.DataFrame, versus: pd.DataFrame | None) -> list[str]:
    """\\res and \\vs entries for one notebook."""
    lines = []
    for _, row in summary.iterrows():
        for column in summary.columns[1:]:
            test_set = next((s for s in SET_NAMES if column.startswith(s + " ")), column.rsplit(" ", 1)[0])
            metric = column[len(test_set):].strip()  # R@1, R@5, R@1 at epoch 0
            lines.append(rf"\defres{{{name}}}{{{row['variant']}}}{{{test_set}}}{{{metric}}}{{{tex_escape(row[column])}}}")
    if versus is not None:
        sets = [c[: -len(" Δ R@1")] for c in versus.columns if c.endswith(" Δ R@1")]
        for _, row in versus.iterrows():
            for test_set in sets:
                word = row.get(f"{test_set} verdict")
                if word is None:
                    said = "selection set, not tested"
                elif word == DESCRIPTIVE:
                    said = "descriptive (fewer seeds, no verdict)"
                else:
                    p = p_words(row[f"{test_set} p corrected"]).removeprefix("corrected ")
                    said = f"{verdict_words(word, row[f'{test_set} 95% CI'])} (corrected ${p}$)"
                if row.get(f"{test_set} seeds") == 1:  # a difference on one seed, not the table's means
                    said = f"on the one seed they share, {said}"
                # no line break inside the numbers: LaTeX may break after a '-' ("[-" / "15.0")
                text = (rf"\mbox{{{row[f'{test_set} Δ R@1']:+.1f}}} points \mbox{{{row[f'{test_set} 95% CI']}}}, "
                        rf"{said}")
                lines.append(rf"\defvs{{{name}}}{{{row['variant']}}}{{{test_set}}}{{{text}}}")
    return lines


def progress_tex(below: list, stalled: list, last: int) -> str:
    """A sentence on the variants that end below their epoch 0 or barely above it (vpr_lib.analysis), or ''."""
    listed = lambda rows: "; ".join(rf"\texttt{{{tex_escape(v)}}} ({a:.1f} $\to$ {b:.1f})" for v, a, b in rows)
    parts = []
    if below:
        parts.append(f"below its own epoch 0: {listed(below)}")
    if stalled:
        parts.append(f"less than {STALLED_POINTS:g} points above its own epoch 0: {listed(stalled)}")
    if not parts:
        return ""
    one = len(below) + len(stalled) == 1
    return (f"Training progress (SF-XS val R@1, epoch 0 $\\to$ last epoch {last}, mean over seeds), " + "; ".join(parts) +
            (f". By its last epoch this variant had not gained {STALLED_POINTS:g} points on its start in this budget, "
             "so its gap to the other variants says that," if one else f". By their last epoch these had not gained "
             f"{STALLED_POINTS:g} points on their start in this budget, so their gap to the other variants says that,")
            + " not how the method does at convergence "
            "(the tested checkpoint is each run's best SF-XS val epoch, which may lie earlier: the table's row).")


def short_commit(commit) -> str:
    """A run's commit as the appendix prints it: 10 hex digits, '-dirty' kept."""
    commit = str(commit)
    return commit[:10] + ("-dirty" if commit.endswith("-dirty") else "")


def runs_appendix(all_runs: list[tuple[str, pd.DataFrame]]) -> str:
    """Every run of the report, notebook by notebook: variant and run id (its digest = the params, its '-s<n>' the
    seed), with the commit it ran at.  Two columns wide, so it follows the references without a page break; with
    several commits each id carries a letter that the heading resolves."""
    commits = sorted({short_commit(c) for _, runs in all_runs for c in runs.commit})
    letters = {c: chr(ord("a") + i) for i, c in enumerate(commits)} if len(commits) > 1 else {}
    lines, seen = [], set()
    for name, runs in all_runs:  # plain lines, not a table: they break across columns and pages as text does
        lines.append(r"\par\smallskip\noindent\textbf{" + tex_escape(name) + r"}\par\nobreak")
        for run in runs.itertuples():
            marks = ("*" if run.run_id in seen else "") + letters.get(short_commit(run.commit), "")
            seen.add(run.run_id)
            lines.append(r"\noindent " + tex_escape(run.variant) + r"\hfill\texttt{"
                         + tex_escape(run.run_id) + "}" + (f"$^{{{marks}}}$" if marks else "") + r"\par")
    if letters:
        at = "The commit each run ran at: " + ", ".join(
            f"$^{{{k}}}$" + r" \texttt{" + tex_escape(c) + "}" for c, k in letters.items()) + "."
    else:
        at = r"Every run ran at commit \texttt{" + tex_escape(commits[0]) + "}." if commits else ""
    return "\n".join([r"\section*{Appendix: every run}",
                      r"Each notebook's runs, as variant and run id. The id ends with a digest of the run's resolved "
                      r"parameters (\texttt{" + Run.PARAMS + r"} in \texttt{results/runs/<id>/}, with \texttt{" + Run.ENV
                      + r"}: versions and the commit; the run store is not committed, a rerun recreates it); its \texttt{-s}$n$ is the seed. " + at
                      + r" $^*$: a run shared with an earlier notebook, trained once.",
                      r"{\scriptsize", *lines, "}", ""])


def plain_table(table: pd.DataFrame, caption: str, name: str, gen: Path, wide: bool = False,
                group: str | None = None) -> str:
    """A CSV table as generated/tables/<name>.tex (booktabs, escaped cells); returns its \\input line. `group`: a
    column written once, as an italic line above its rows, instead of on every row."""
    groups = table[group] if group else None
    table = table.drop(columns=group) if group else table
    cells = table.astype(object).where(table.notna(), "--").astype(str)
    body = []
    for i, row in enumerate(cells.itertuples(index=False)):
        if groups is not None and (i == 0 or groups.iloc[i] != groups.iloc[i - 1]):
            body.append(("" if i == 0 else r"\addlinespace ") +
                        rf"\multicolumn{{{len(table.columns)}}}{{@{{}}l}}{{\textit{{{tex_escape(str(groups.iloc[i]))}}}}} \\")
        body.append(" & ".join(tex_escape(v) for v in row) + r" \\")
    env, width = ("table*", r"\textwidth") if wide else ("table", r"\columnwidth")
    (gen / "tables" / f"{name}.tex").write_text("\n".join([
        rf"\begin{{{env}}}{placement(env)}", r"\centering", rf"\caption{{{caption}.}}", rf"\label{{tab:{name}}}",
        rf"\resizebox{{\ifdim\width>{width}{width}\else\width\fi}}{{!}}{{%",  # shrink to fit, never enlarge
        rf"\begin{{tabular}}{{{'l' * (len(table.columns) - 1)}r}}",
        r"\toprule", " & ".join(header_cell(str(c).replace("_", " ")) for c in table.columns) + r" \\", r"\midrule", *body,
        r"\bottomrule", r"\end{tabular}}", rf"\end{{{env}}}", ""]))
    return rf"\input{{generated/tables/{name}}}"


def header_cell(text: str, longest: int = 12) -> str:
    """A column heading, escaped; one longer than `longest` characters on two lines (broken at the space nearest its
    middle), so that a wide table's headings do not shrink its text below a readable size."""
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if len(text) <= longest or not spaces:
        return tex_escape(text)
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return (r"\begin{tabular}[b]{@{}l@{}}" + tex_escape(text[:cut]) + r" \\ " + tex_escape(text[cut + 1:]) +
            r"\end{tabular}")


def read_table(path: Path) -> pd.DataFrame | None:
    """A results CSV, or None when it does not exist (its notebook has not run)."""
    return pd.read_csv(path) if path.is_file() else None


def copy_figure(results: Path, gen: Path, name: str) -> str | None:
    """results/figures/<name>.png copied into the generated folder; its path for \\includegraphics, or None."""
    source = results / "figures" / f"{name}.png"
    if not source.is_file():
        return None
    (gen / "figures").mkdir(exist_ok=True)
    shutil.copyfile(source, gen / "figures" / source.name)
    return f"generated/figures/{source.name}"


def cites(shown: list[tuple[str, str]]) -> str:
    """One sentence that cites every float of a section, near where they land: '\\Cref{tab:a} gives the recalls,
    \\cref{fig:b} the validation curves.'"""
    (label, what), rest = shown[0], shown[1:]
    return (rf"\Cref{{{label}}} gives {what}" + "".join(rf", \cref{{{l}}} {w}" for l, w in rest) + ".")


FAR_APART_POINTS = 5.0  # epoch-0 R@1 spread over a step's variants beyond which their gains over epoch 0 are given


def start_gains_tex(summary: pd.DataFrame, sets=("SF-XS test", "Tokyo-XS")) -> str:
    """Where a step's variants start far apart (epoch-0 R@1 spread of FAR_APART_POINTS or more on a test set), each
    one's gain over its own epoch 0 there (means over seeds), so that a lead held before training is not read as
    training's; '' otherwise."""
    rows = summary[summary.variant != "chance"].set_index("variant")
    said = []
    for test_set in sets:
        start, end = f"{test_set} R@1 at epoch 0", f"{test_set} R@1"
        if start not in rows or end not in rows:
            continue
        before, after = rows[start].map(cell_mean), rows[end].map(cell_mean)
        if before.max() - before.min() >= FAR_APART_POINTS:
            gains = "; ".join(rf"\texttt{{{tex_escape(v)}}} {b:.1f} $\to$ {a:.1f} ({a - b:+.1f})"
                              for v, b, a in zip(rows.index, before, after))
            said.append(f"on {tex_escape(test_set)} ({gains})")
    if not said:
        return ""
    return (f"The variants start far apart (epoch-0 R@1 differing by {FAR_APART_POINTS:g} points or more), so each "
            "one's gain over its own start, mean over seeds: " + "; and ".join(said) + ".")
