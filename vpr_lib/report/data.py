"""The report's data section, generated from notebook 00's outputs: the sets' counts, samples and map."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from vpr_lib.report.tex import cites, figure_tex, plain_table

# (figure, what the sentence citing it says it shows, caption)
FIGURES = [("00_samples_time_of_day", "sample images",
            "Sample images, one row per time of day (SynthCity's recorded condition; on real data one row per set)"),
           ("00_utm_map", "the positions of database images and queries",
            "Database (grey) and query (red) positions of each retrieval set (SF-XS train, val and test, Tokyo-XS), "
            "and the images of one training city, one colour per place (20 colours, repeating; UTM, metres from each "
            "set's corner)")]


def data_section(results: Path, gen: Path, report: Path, data_name: str) -> str:
    """generated/data.tex's text: the authored description (sections/00_datasets.tex), the counts table and the
    figures of notebook 00; '' when notebook 00 has not run."""
    counts_path = results / "tables" / "00_datasets_counts.csv"
    if not counts_path.is_file():
        return ""
    parts = [r"\section{Data}", r"\label{sec:data}"]
    parts += [r"\input{sections/00_datasets}"] if (report / "sections" / "00_datasets.tex").is_file() else []
    counts = pd.read_csv(counts_path)
    counts = counts.loc[:, counts.notna().any()]  # columns that no row fills are left out
    for column in counts.columns[2:]:
        counts[column] = counts[column].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    floats = [plain_table(counts, f"The sets of this study ({data_name}): images per set and role, places and "
                                     "cities of the training set, and queries with a database image within 25 m",
                          "00_datasets_counts", gen, wide=True)]
    shown = [("tab:00_datasets_counts", "the size of each set")]
    (gen / "figures").mkdir(exist_ok=True)
    for name, what, caption in FIGURES:
        source = results / "figures" / f"{name}.png"
        if source.is_file():
            shutil.copy(source, gen / "figures" / source.name)
            floats.append(figure_tex(f"generated/figures/{source.name}", f"{caption}; {data_name}.", f"fig:{name}",
                                     wide=True))
            shown.append((f"fig:{name}", what))
    # no float barrier: the figures may float into the next section's pages
    return "\n".join(parts + [cites(shown)] + floats)
