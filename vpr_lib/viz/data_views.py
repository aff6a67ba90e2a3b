"""Notebook 00's views of the datasets: counts, UTM maps, sample images, positives per query."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from vpr_lib.data import PlacesDataset, RetrievalDataset
from vpr_lib.data.images import list_images, load_image
from vpr_lib.data.places import scan_gsv_xs
from vpr_lib.data.retrieval import utm_of
from vpr_lib.data.layout import SET_LABELS, conditions, find_sets


def split_counts(root: Path, threshold: float = 25.0) -> pd.DataFrame:
    """One row per set and role: images, places or panoramas, queries with a positive."""
    rows = []
    for name, folder in find_sets(root).items():
        if name == "GSV-XS train":
            places = PlacesDataset.from_folder(folder)
            rows.append({"set": name, "role": "train", "images": places.n_images, "places": len(places),
                         "cities": len(set(places.place_city)), "dropped places (<4 images)": places.dropped_places})
            continue
        ds = RetrievalDataset(folder, threshold)
        with_pos = sum(len(p) > 0 for p in ds.positives_per_query)
        rows.append({"set": name, "role": "database", "images": ds.database_num})
        rows.append({"set": name, "role": "queries", "images": ds.queries_num,
                     f"queries with a positive within {threshold:g} m": with_pos})
    return pd.DataFrame(rows).convert_dtypes()  # counts stay integers where a column has gaps


def plot_utm_map(root: Path):
    """Database and query positions of each retrieval set, and the places of the first train city (one colour per
    place, cycling through 20)."""
    sets = find_sets(root)
    tests = {n: f for n, f in sets.items() if n != "GSV-XS train"}
    panels = len(tests) + ("GSV-XS train" in sets)
    columns = min(3, panels)  # at most three panels a row: the labels stay readable at the page's width
    rows = int(np.ceil(panels / columns))
    # 2.6 in per panel: at the report's width (about 6.3 in) its 10-pt labels print at about 7 pt
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.2 * rows), squeeze=False)
    spare = list(axes.flat[panels:])
    for ax in spare:
        ax.set_axis_off()
    axes = axes.flat[:panels]
    for ax, (name, folder) in zip(axes, tests.items()):
        origin = None
        for role, colour, size in (("database", "0.6", 10), ("queries", "tab:red", 1.5)):  # queries small over
            # large database points: both stay visible where they share a street
            utm = utm_of(list_images(folder / role, f"the {role} images of {name}"))
            origin = utm.min(0) if origin is None else origin  # one origin per set: the database's corner
            ax.scatter(utm[:, 0] - origin[0], utm[:, 1] - origin[1], s=size, c=colour, label=role, alpha=0.7,
                       linewidths=0)
        ax.set(title=name, xlabel="UTM east (m, offset)", ylabel="UTM north (m, offset)", aspect="equal")
    if "GSV-XS train" in sets:
        table = scan_gsv_xs(sets["GSV-XS train"])
        city = sorted(table.city.unique())[0]  # one city: the cities' coordinates are unrelated to each other
        t = table[table.city == city]
        utm = utm_of(t.path)
        place = pd.factorize(t.place)[0]
        ax = axes[-1]
        ax.scatter(utm[:, 0] - utm[:, 0].min(), utm[:, 1] - utm[:, 1].min(), s=4, c=place % 20, cmap="tab20",
                   linewidths=0)
        ax.set(title=f"GSV-XS train: {city} ({place.max() + 1} places)", xlabel="UTM east (m, offset)",
               ylabel="UTM north (m, offset)", aspect="equal")
    if tests:  # one legend for the retrieval sets, in a spare panel or below them: inside an axis it covers points
        legend = dict(fontsize=10, markerscale=3, frameon=False)
        if spare:
            spare[0].legend(*axes[0].get_legend_handles_labels(), loc="center", **legend)
        else:
            fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, **legend)
    fig.tight_layout(rect=(0, 0.05 if tests and not spare else 0, 1, 1))
    return fig


def _set_label(path: str) -> str:
    """'sf_xs/test/queries/x.jpg' -> 'SF-XS test queries' (the names the tables use)."""
    parts = Path(path).parts
    rel = "/".join(parts[:2])
    role = parts[2] if len(parts) > 3 and parts[2] in ("database", "queries") else ""
    return f"{SET_LABELS.get(rel, rel)} {role}".strip()


def _grid(paths, titles, per_row):
    n = len(paths)
    rows = max(1, int(np.ceil(n / per_row)))
    fig, axes = plt.subplots(rows, per_row, figsize=(1.3 * per_row, 1.45 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, path, title in zip(axes.flat, paths, titles):
        ax.imshow(load_image(path))
        ax.set_title(title, fontsize=9)  # about 7.3 pt at the report's width
    fig.tight_layout()
    return fig


def plot_samples(root: Path, by: str = "time_of_day", per_row: int = 6, seed: int = 0):
    """Sample images: one row per value of a condition (SynthCity) or per set (real data)."""
    root = Path(root)
    meta = conditions(root)
    rng = np.random.default_rng(seed)
    paths, titles = [], []
    if meta is not None:
        for value, group in meta.groupby(by):
            pick = group.sample(min(per_row, len(group)), random_state=seed)
            paths += [root / p for p in pick.path]
            titles += [f"{value}\n{_set_label(r.path)}" for r in pick.itertuples()]
            paths += [None] * (per_row - len(pick))
            titles += [""] * (per_row - len(pick))
    else:
        for name, folder in find_sets(root).items():
            files = list_images(folder, f"the images of {name}", recursive=True)
            for p in rng.choice(files, min(per_row, len(files)), replace=False):
                paths.append(p)
                titles.append(name)
    keep = [(p, t) for p, t in zip(paths, titles) if p is not None]
    return _grid([p for p, _ in keep], [t for _, t in keep], per_row)


def plot_positives_histogram(root: Path, threshold: float = 25.0):
    """Histogram of the number of database positives per query, per test set."""
    sets = {n: f for n, f in find_sets(root).items() if n != "GSV-XS train"}
    fig, axes = plt.subplots(1, len(sets), figsize=(4 * len(sets), 3), squeeze=False)
    for ax, (name, folder) in zip(axes[0], sets.items()):
        counts = [len(p) for p in RetrievalDataset(folder, threshold).positives_per_query]
        ax.hist(counts, bins=30, color="tab:blue")
        ax.set(title=f"{name}: positives within {threshold:g} m", xlabel="database images", ylabel="queries")
    fig.tight_layout()
    return fig
