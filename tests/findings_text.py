"""Reading back the generated findings (notebooks' Markdown, the report's LaTeX) to check them against the tables."""
import re

SETS = ("SF-XS val", "SF-XS test", "Tokyo-XS")
ITEM = re.compile(r"(?:\\texttt\{((?:[^{}\\]|\\_)+)\}|`([^`]+)`)(?:\$\^\\dagger\$)? on (" + "|".join(SETS) + r") "
                  r"\(([+-]\d+\.\d)(?: (\[[^\]]+\]), (?:\\mbox\{)?corrected\}? (\$p\$ =|p =|\$p <\$|p <) (\d\.\d+))?\)")
REST = [(re.compile(r"(?:All|The other) (\d+) comparisons are within noise"), None),
        (re.compile(r"The only comparison is within noise|The one other comparison is within noise"), 1),
        (re.compile(r"No comparison is within noise"), 0), (re.compile(r"within noise: (\d+) of \d+"), None),
        (re.compile(r"No comparison is tested here"), 0)]


def stated(text: str) -> tuple[dict, int]:
    """{(variant, set): (verdict, Δ, interval or None, corrected p ('0.012', '<0.001') or None)} of the better/worse
    lists, and the number of comparisons the text calls within noise."""
    if "better:" not in text and "descriptive comparisons only" in text:
        return {}, 0
    start = text.index("better:")
    split = re.search(r"[Ww]orse:", text[start:]).start() + start
    rest_at, rest = min((m.start(), int(m.group(1)) if fixed is None else fixed)
                        for pattern, fixed in REST for m in [pattern.search(text, split)] if m)
    found = {}
    for verdict, segment in (("better", text[start:split]), ("worse", text[split:rest_at])):
        for m in ITEM.finditer(segment):
            variant = (m.group(1) or m.group(2)).replace("\\_", "_")
            p = None if m.group(7) is None else ("<" if "<" in m.group(6) else "") + m.group(7)
            found[(variant, m.group(3))] = (verdict, m.group(4), m.group(5), p)
    return found, rest


def check(text: str, versus, sets=SETS, metric: str = "R@1") -> list[str]:
    """What the text says that the versus table (indexed by variant) does not: every better/worse comparison listed
    with its Δ (and interval and corrected p when given), none left out, and the count of the rest."""
    found, rest = stated(text)
    errors, expected = [], {}
    for variant, row in versus.iterrows():
        for test_set in sets:
            if f"{test_set} verdict" in row and row[f"{test_set} verdict"] in ("better", "worse"):
                expected[(variant, test_set)] = row
    for key in set(found) ^ set(expected):
        errors.append(f"{key}: {'stated' if key in found else 'not stated'}, table verdict "
                      f"{expected[key][f'{key[1]} verdict'] if key in expected else 'within noise'}")
    for key in set(found) & set(expected):
        verdict, delta, interval, p = found[key]
        row, test_set = expected[key], key[1]
        if verdict != row[f"{test_set} verdict"] or delta != f"{row[f'{test_set} Δ {metric}']:+.1f}":
            errors.append(f"{key}: says {verdict} {delta}, table {row[f'{test_set} verdict']} "
                          f"{row[f'{test_set} Δ {metric}']:+.1f}")
        if interval is not None and interval != row[f"{test_set} 95% CI"]:
            errors.append(f"{key}: interval {interval}, table {row[f'{test_set} 95% CI']}")
        table_p = row[f"{test_set} p corrected"]
        if p is not None and p != (f"{table_p:.3f}" if table_p >= 0.001 else "<0.001"):
            errors.append(f"{key}: corrected p {p}, table {table_p:.3f}")
    compared = sum(int(versus[f"{s} verdict"].isin(["better", "worse", "within noise"]).sum())
                   for s in sets if f"{s} verdict" in versus)
    if rest != compared - len(expected):
        errors.append(f"says {rest} within noise; the table has {compared - len(expected)} of {compared}")
    return errors
