"""The course brief, step by step: its question, the kit's answer from the results tables, the course reports' answer
(docs/seeds_reference.csv) and whether they agree. One row per step; the report opens its results with it.

Agreement of a comparison (a variant against its notebook's baseline, both in a course report): `agree` when the kit
decides it (vpr_lib.family's rule) in the direction of the report's difference, `disagree` when it decides it the other
way, `disagree in size` when the kit does not decide it and its 95 % interval on the same set excludes the report's
difference (the kit finds no such difference as the report's), `kit within noise` otherwise (`report without a
direction` when the report's difference rounds to 0.0). The reports' numbers are single runs without an interval:
only their direction, and on the kit's own sets whether the kit's interval holds them, is compared. The disagreements
get a measured diagnosis (vpr_lib.diagnosis). Steps 2 and 3 (one model on
two sets, different queries: no test) compare the direction of the difference only: `same direction` or `other
direction`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vpr_lib.synth.plan import query_conditions_words
from vpr_lib.stats import cell_mean, seed_interval
from vpr_lib.comparisons import SELECTION_SET, interval
from vpr_lib.config import notebook_paths
from vpr_lib.seeds import reference_numbers

KIT_TEST_SETS = ("SF-XS test", "Tokyo-XS")
DISAGREEMENTS = ("disagree", "disagree in size")


@dataclass(frozen=True)
class Step:
    label: str  # the brief's numbering: 2, 3, 4, 5, 6a … 6f
    title: str
    question: str  # the brief's question, shortened
    notebooks: tuple  # the notebooks that answer it
    sets: tuple = ()  # steps 2 and 3: the two sets whose difference is the question (first minus second)
    # what to say of the answer when the data is SynthCity's: {val}, {test}, {tokyo} stand for the query conditions
    # of its sets (vpr_lib.synth.plan.QUERY_CONDITIONS), in words
    synthetic_note: str = ""
    note: str = ""  # what to say of the answer on any data


STEPS = (
    Step("2", "First training", "Are the results different on SF-XS val and SF-XS test?", ("01_baseline",),
         ("SF-XS val", "SF-XS test"),
         "On SynthCity the two sets differ by design (docs/synthcity.md): SF-XS val's queries are Street-View-like "
         "({val}), SF-XS test's come from {test}. These differences are by design; which of them accounts for the gap "
         "is not tested here, and the real sets' difference is the reports'."),
    Step("3", "Tokyo-XS", "Are the results different on Tokyo-XS and SF-XS test?", ("01_baseline",),
         ("Tokyo-XS", "SF-XS test"),
         "On SynthCity Tokyo-XS is a city style no training city uses, its queries from {tokyo} (docs/synthcity.md); "
         "SF-XS test's from {test}. These differences are by design; which of them accounts for the gap is not "
         "tested here."),
    Step("4", "GeM", "Does GeM pooling improve on average pooling?", ("02_gem",),
         note="Step 6e compares GeM and average pooling again in another setting (notebook 07: the MultiSimilarity "
              "loss and miner, AdamW, L2-normalised descriptors): its verdict there is its own."),
    Step("5", "Visual analysis", "How do the predictions look; which mistakes does the model make?",
         ("03_visual_analysis",)),
    Step("6a", "Miners", "Does mining the batch's pairs help the loss?", ("05_miners",)),
    Step("6b", "Losses", "Which loss trains the better descriptor?", ("04_losses",)),
    Step("6c", "Self-supervised", "How far does training without place labels get?", ("13_self_supervised",)),
    Step("6d", "Sampling", "Do samplers or offline mining beat random P x K batches?", ("06_samplers", "10_mining")),
    Step("6e", "Aggregation", "Is MixVPR better than pooling, and with which losses and miners?",
         ("07_mixvpr", "14_mixvpr_losses", "09_heads")),
    Step("6f", "Optimizers and schedulers", "Which optimizer and scheduler train best?", ("08_optimizers",)),
)
def synthetic_words(step: Step) -> str:
    """A step's synthetic_note with SynthCity's query conditions filled in from its generator."""
    return step.synthetic_note.format(**{split: query_conditions_words(split) for split in ("val", "test", "tokyo")})


# steps 2 and 3: the course's own models of the starter's kind, whose numbers on both sets the reports give
STARTER_REFERENCES = (("02_gem", "avg"), ("07_mixvpr", "avg_layer3_adamw"))


def reading_order() -> pd.DataFrame:
    """The study's notebooks in the brief's order: one row per step (its question and the notebooks that answer it),
    then the notebooks no step names. Notebook 00 shows it as the way to read the others."""
    named = {n for step in STEPS for n in step.notebooks}
    rows = [{"step": s.label, "the brief asks": s.question, "notebooks": ", ".join(s.notebooks)} for s in STEPS]
    rest = [p.stem for p in notebook_paths() if p.stem not in named and p.stem != "00_datasets"]
    if rest:
        rows.append({"step": "beyond", "the brief asks": "improve results or speed up training (step 6's aim)",
                     "notebooks": ", ".join(rest)})
    return pd.DataFrame(rows).set_index("step")


def _agreement(course: float, verdict: str, ci, same_set: bool) -> str:
    if round(course, 1) == 0:
        return "report without a direction"
    if verdict == "within noise":
        if same_set and isinstance(ci, str):
            low, high = interval(ci)
            if not low <= course <= high:
                return "disagree in size"
        return "kit within noise"
    return "agree" if (verdict == "better") == (course > 0) else "disagree"


def _author(source: str) -> str:
    """'Sajjadi et al.'; the lecture's numbers say so: 'Masone et al. (lecture)'."""
    return source.split(",")[0].split(":")[0] + " et al." + (" (lecture)" if "lecture" in source.lower() else "")


def versus_agreement(name: str, versus: pd.DataFrame, baseline: str, reference: pd.DataFrame) -> list[dict]:
    """One row per (variant, report, kit test set) that the kit and a course report both compare against the same
    baseline. A report on the kit's test sets is compared set by set; a report on other sets (Pitts30k, MSLS …) once,
    on its first listed set against the kit's SF-XS test."""
    rows = []
    ref = reference[(reference.notebook == name) & (reference.metric == "R@1")]
    for (source, _), by_source in ref.groupby(["source", "comparison"], sort=False):  # a report's own comparison
        report_sets = list(dict.fromkeys(by_source.test_set))
        shared = [s for s in report_sets if s in KIT_TEST_SETS]
        others = [s for s in report_sets if s not in KIT_TEST_SETS + (SELECTION_SET,)]
        matched = [(s, s) for s in shared] or ([(others[0], KIT_TEST_SETS[0])] if others else [])
        for report_set, kit_set in matched:
            entries = by_source[by_source.test_set == report_set].drop_duplicates("variant").set_index("variant")
            values = entries.value
            if baseline not in values:
                continue
            for variant in values.index.intersection(versus.index):
                verdict = versus.loc[variant, f"{kit_set} verdict"]
                if verdict == "descriptive":
                    continue
                course = float(values[variant] - values[baseline])
                ci = versus.loc[variant].get(f"{kit_set} 95% CI")
                word = _agreement(course, verdict, ci, report_set == kit_set)
                rows.append({"notebook": name, "variant": variant, "source": _author(source),
                             "report set": report_set, "report Δ": round(course, 1), "kit set": kit_set,
                             "kit Δ": float(versus.loc[variant, f"{kit_set} Δ R@1"]),
                             "kit 95% CI": ci if isinstance(ci, str) else "", "kit verdict": verdict,
                             "agreement": word, "report note": str(entries.note.get(variant, "")
                                                                    if "note" in entries else "")})
    return rows


def ranked_reports(ranked: pd.DataFrame, reference: pd.DataFrame | None = None) -> dict:
    """{(author, comparison): the variants it ranks} of vpr_lib.seeds.seeds_vs_kit's table `ranked` (per comparison the
    first source the reference lists, the variants the kit also ran)."""
    reference = reference_numbers() if reference is None else reference
    ref = reference[reference.metric == "R@1"]
    first = {comparison: _author(block.source.iloc[0]) for comparison, block in ref.groupby("comparison", sort=False)}
    return {(first[comparison], comparison): tuple(block.variant)
            for comparison, block in ranked.groupby("comparison", sort=False) if comparison in first}


def unpaired(name: str, baseline: str, reference: pd.DataFrame, versus: pd.DataFrame) -> dict:
    """What versus_agreement leaves out of a notebook's course comparisons, each as [{source (_author), comparison,
    variants}, …]: 'baselines' (a report's comparison with no number for the kit's baseline), 'variants' (a report's
    variants no pair holds: the kit did not run them, has them descriptive, or the report has no number on the set
    compared), 'selection' (a report's SF-XS val numbers: the kit's selection set, not tested); and 'sets' [the
    report sets beyond the first when none is the kit's]."""
    ref = reference[(reference.notebook == name) & (reference.metric == "R@1")]
    found = {"baselines": [], "variants": [], "selection": [], "sets": []}
    for (source, comparison), block in ref.groupby(["source", "comparison"], sort=False):
        named = list(dict.fromkeys(block.variant))
        entry = {"source": _author(source), "comparison": comparison}
        if baseline not in named:
            found["baselines"].append(dict(entry, variants=named))
        else:
            paired = {r["variant"] for r in versus_agreement(name, versus, baseline, block)}
            if missing := [v for v in named if v != baseline and v not in paired]:
                found["variants"].append(dict(entry, variants=missing))
            on_val = block[block.test_set == SELECTION_SET].variant
            if baseline in set(on_val) and (chosen := [v for v in dict.fromkeys(on_val) if v != baseline]):
                found["selection"].append(dict(entry, variants=chosen))
        report_sets = list(dict.fromkeys(block.test_set))
        if not any(s in KIT_TEST_SETS for s in report_sets):  # as versus_agreement: the first other set only
            found["sets"] += [s for s in report_sets if s != SELECTION_SET][1:]
    return found


def _kit_answer(versus: pd.DataFrame) -> str:
    """'better: v (SF-XS test +9.0, Tokyo-XS +11.5); …; worse: none; within noise: n of N test-set comparisons'."""
    said = {"better": {}, "worse": {}}
    total = 0
    for variant, row in versus.iterrows():
        for s in KIT_TEST_SETS:
            verdict = row.get(f"{s} verdict")
            if verdict in ("better", "worse", "within noise"):
                total += 1
                if verdict in said:
                    said[verdict].setdefault(variant, []).append(f"{s} {row[f'{s} Δ R@1']:+.1f}")
    if not total:
        return "descriptive comparisons only (fewer seeds than the baseline: no verdict)"
    listed = {k: "; ".join(f"{v} ({', '.join(on)})" for v, on in found.items()) or "none" for k, found in said.items()}
    decided = sum(len(on) for found in said.values() for on in found.values())
    return (f"better: {listed['better']}; worse: {listed['worse']}; within noise: {total - decided} of {total} "
            "test-set comparisons")


def _course_answer(pairs: list[dict]) -> str:
    """'Bracco et al. on SF-XS test: v +7.9, w +28.4; …' (each report's differences, grouped by report and set)."""
    groups = {}
    for p in pairs:
        said = groups.setdefault((p["source"], p["report set"]), [])
        if f"{p['variant']} {p['report Δ']:+.1f}" not in said:
            said.append(f"{p['variant']} {p['report Δ']:+.1f}")
    return "; ".join(f"{source} on {on}: {', '.join(said)}" for (source, on), said in groups.items()) or "no number"


def _seed_interval(tables: Path, name: str, sets: tuple, variant: str) -> str:
    """', 95 % interval [a, b] over the N seeds' of the difference between a step's two sets, from the per-seed
    recalls (the sets have other queries: only the seeds vary); '' without the results table or with one seed."""
    path = tables / f"{name}_results.csv"
    if not path.is_file():
        return ""
    per_seed = pd.read_csv(path).query("variant == @variant").pivot(index="seed", columns="set", values="R@1")
    _, low, high = seed_interval(per_seed[sets[0]] - per_seed[sets[1]])
    return "" if low != low else f", 95 % interval [{low:+.1f}, {high:+.1f}] over its {len(per_seed)} seeds"


def _set_gap(tables: Path, name: str, variant: str, sets: tuple, label: str = "") -> tuple[float, str, bool] | None:
    """A variant's R@1 on the first set minus the second (means over seeds), its words (`label` after its name) and
    whether they hold a seed interval; None when notebook `name` did not run it."""
    path = tables / f"{name}_summary.csv"
    summary = pd.read_csv(path).set_index("variant") if path.is_file() else pd.DataFrame()
    if variant not in summary.index:
        return None
    first, second = (summary.loc[variant, f"{s} R@1"] for s in sets)
    gap, spread = cell_mean(first) - cell_mean(second), _seed_interval(tables, name, sets, variant)
    return gap, f"{variant}{label}: {sets[0]} {first} against {sets[1]} {second} ({gap:+.1f}{spread})", bool(spread)


def _run_ids(tables: Path, name: str, variant: str) -> set:
    path = tables / f"{name}_runs.csv"
    return set(pd.read_csv(path).query("variant == @variant").run_id) if path.is_file() else set()


def _sets_step(step: Step, tables: Path, reference: pd.DataFrame) -> tuple[str, str, str] | None:
    """The kit's gap between the step's two sets for its starter and for each of STARTER_REFERENCES' variants it ran
    on other runs, and each report's gap for its model, set beside the kit's same variant (else the starter's)."""
    path = tables / f"{step.notebooks[0]}_summary.csv"
    if not path.is_file():
        return None
    base = pd.read_csv(path).variant.iloc[0]
    base_runs = _run_ids(tables, step.notebooks[0], base)
    kit, answers, spread = {}, [], False
    for name, variant in ((step.notebooks[0], base), *STARTER_REFERENCES):
        if variant in kit or (variant != base and _run_ids(tables, name, variant) == base_runs):
            continue  # the starter's own runs under another name
        found = _set_gap(tables, name, variant, step.sets, "" if variant == base else f" (notebook {name[:2]})")
        if found is not None:
            kit[variant], words, with_interval = found
            answers.append(words)
            spread |= with_interval
    course, words = [], []
    for name, variant in STARTER_REFERENCES:
        ref = reference[(reference.notebook == name) & (reference.variant == variant) & (reference.metric == "R@1")]
        own = variant if variant in kit else base
        for source, block in ref.groupby("source", sort=False):
            values = block.set_index("test_set").value
            if all(s in values for s in step.sets):
                delta = float(values[step.sets[0]] - values[step.sets[1]])
                course.append(f"{_author(source)} ({variant}): {delta:+.1f}, beside the kit's {own}")
                words.append("same direction" if (delta > 0) == (kit[own] > 0) else "other direction")
    said = "; ".join(answers) + ("; intervals by Student's t on the per-seed differences (the two sets' queries "
                                 "differ: no pairing)" if spread else "")
    return said, "; ".join(course) or "no number", _tally(words) if words else "no course number"


AGREEMENTS = ("agree", "disagree", "disagree in size", "kit within noise", "report without a direction",
              "same direction", "other direction")


def _tally(words: list[str]) -> str:
    return ", ".join(f"{w} {words.count(w)}" for w in AGREEMENTS if words.count(w))


def brief_table(results: Path, reference: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per step: the brief's question, the kit's answer, the reports' answer, the agreement; one row per
    compared variant the kit and a report share), from results/tables."""
    tables = Path(results) / "tables"
    reference = reference_numbers() if reference is None else reference
    steps, pairs, left_out = [], [], {"baselines": [], "variants": [], "selection": [], "sets": []}
    for step in STEPS:
        row = {"step": step.label, "title": step.title, "question": step.question}
        if step.sets:
            found = _sets_step(step, tables, reference)
            if found is None:
                continue
            row["kit"], row["course"], row["agreement"] = found
        elif not any(any(tables.glob(f"{name[:2]}_*")) for name in step.notebooks):
            continue
        else:
            answers, step_pairs = [], []
            for name in step.notebooks:
                path = tables / f"{name}_versus.csv"
                if not path.is_file():
                    continue
                versus = pd.read_csv(path).set_index("variant")
                baseline = pd.read_csv(tables / f"{name}_runs.csv").variant.iloc[0]
                answers.append(f"notebook {name[:2]}, against {baseline}: {_kit_answer(versus)}")
                step_pairs += versus_agreement(name, versus, baseline, reference)
                for key, found in unpaired(name, baseline, reference, versus).items():
                    left_out[key] += [f for f in found if f not in left_out[key]]
            pairs += [dict(p, step=step.label) for p in step_pairs]
            row["kit"] = "; ".join(answers) or (f"qualitative: the predictions, recall by query condition and failure "
                                                f"categories in notebook {step.notebooks[0][:2]}'s section")
            row["course"] = _course_answer(step_pairs)
            row["agreement"] = _tally([p["agreement"] for p in step_pairs]) if step_pairs else (
                "no course number" if answers else "qualitative")
        steps.append(row)
    steps = pd.DataFrame(steps)
    steps.attrs["left out"] = left_out  # what the pairs leave out of the reports' comparisons (unpaired)
    steps.attrs["transcribed"] = int((reference.metric == "R@1").sum())  # the reports' numbers the pairs draw on
    return steps, pd.DataFrame(pairs)
