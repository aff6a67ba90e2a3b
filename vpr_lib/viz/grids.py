"""Prediction grids from saved predictions (never re-running a model): the query, then its top-k database
images framed green (within the threshold) or red, labelled with rank and distance in metres."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont, ImageOps

from vpr_lib.analysis import correct_at
from vpr_lib.runs import Run, set_slug
from vpr_lib.data.images import load_image
from vpr_lib.data.layout import SET_LABELS
from vpr_lib.results import atomic_write_bytes, atomic_write_text, results_dir

GREEN, RED, GREY = (0, 170, 60), (220, 30, 30), (90, 90, 90)
FRAME = 5


def query_predictions(data: dict, query: int, k: int) -> pd.DataFrame:
    """The query's top-k: rank, database path, correct (a positive), distance in metres (UTM)."""
    preds = data["predictions"][query, :k]
    utm = data["queries_utms"][query]
    return pd.DataFrame({
        "rank": np.arange(1, len(preds) + 1), "path": data["database_paths"][preds],
        "correct": np.isin(preds, data["positives"][query]),
        "distance_m": np.linalg.norm(data["database_utms"][preds] - utm, axis=1).round(1)})


def select_queries(data: dict, n_queries: int | None = None, only_wrong: bool = False,
                   mask: np.ndarray | None = None) -> np.ndarray:
    """Query indices: optionally only those wrong at rank 1 and/or within `mask`, then n evenly spaced."""
    keep = np.ones(len(data["queries_paths"]), bool) if mask is None else np.asarray(mask, bool).copy()
    if only_wrong:
        keep &= ~correct_at(data, 1)
    chosen = np.flatnonzero(keep)
    if n_queries is not None and len(chosen) > n_queries:
        chosen = chosen[np.linspace(0, len(chosen) - 1, n_queries).round().astype(int)]
    return chosen


def label_font(labels, size: int) -> ImageFont.FreeTypeFont:
    """The tiles' label font: a fifth of the tile's height (about 8 pt once a row of five tiles spans a report
    column), smaller only where the longest label would overrun its tile."""
    points = max(10, size // 5)
    while points > 10 and max(ImageFont.load_default(size=points).getlength(t) for t in labels) > size + 2 * FRAME:
        points -= 1
    return ImageFont.load_default(size=points)


def _tile(path: Path, size: int, colour, label: str, font) -> Image.Image:
    """The image padded to size x size in a coloured frame, its label below."""
    image = ImageOps.pad(load_image(path), (size, size), color="white")
    tile = Image.new("RGB", (size + 2 * FRAME, size + 2 * FRAME + font.size + 6), "white")
    tile.paste(Image.new("RGB", (size + 2 * FRAME, size + 2 * FRAME), colour), (0, 0))
    tile.paste(image, (FRAME, FRAME))
    ImageDraw.Draw(tile).text((FRAME, size + 2 * FRAME + 2), label, fill=colour, font=font)
    return tile


def grid_image(data: dict, query: int, data_root: Path, k: int = 5, size: int = 128) -> Image.Image:
    """One row: the query (grey frame), then its top-k framed green (correct) or red."""
    root = Path(data_root)
    ranked = query_predictions(data, query, k)
    return tile_row([root / data["queries_paths"][query], *(root / p for p in ranked.path)],
                    [GREY, *(GREEN if c else RED for c in ranked.correct)],
                    [f"query {query}", *(f"#{r.rank}  {r.distance_m:.0f} m" for r in ranked.itertuples())], size)


def tile_row(paths, colours, labels, size: int = 128) -> Image.Image:
    """Images side by side, each framed in its colour with its label below."""
    font = label_font(labels, size)
    tiles = [_tile(path, size, colour, label, font) for path, colour, label in zip(paths, colours, labels)]
    out = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), tiles[0].height), "white")
    x = 0
    for tile in tiles:
        out.paste(tile, (x, 0))
        x += tile.width + 4
    return out


def save_prediction_grids(run_id: str, test_set: str, data_root: Path, k: int = 5, n_queries: int | None = 10,
                          only_wrong: bool = False, size: int = 128) -> list[Path]:
    """results/grids/<run_id>/<set>/query_<i>.png, with query_<i>.csv beside it listing the query, its
    predictions (rank, path, correct, distance) and its true positives."""
    data = Run(run_id).predictions(test_set)
    out_dir = results_dir() / "grids" / run_id / set_slug(test_set)
    written = []
    for query in select_queries(data, n_queries, only_wrong):
        png = out_dir / f"query_{query:05d}.png"
        atomic_write_bytes(png, png_bytes(grid_image(data, query, data_root, k, size)))
        rows = [{"role": "query", "rank": 0, "path": data["queries_paths"][query], "correct": "", "distance_m": 0.0}]
        rows += [dict(role="prediction", **r) for r in query_predictions(data, query, k).to_dict("records")]
        utm = data["queries_utms"][query]
        rows += [{"role": "positive", "rank": "", "path": data["database_paths"][p], "correct": True,
                  "distance_m": round(float(np.linalg.norm(data["database_utms"][p] - utm)), 1)}
                 for p in data["positives"][query]]
        atomic_write_text(png.with_suffix(".csv"), pd.DataFrame(rows).to_csv(index=False))
        written.append(png)
    return written


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def compact_grid(run_id: str, test_set: str, data_root: Path, n_queries: int = 4, k: int = 4,
                 only_wrong: bool = False, size: int = 96, dpi: int = 110):
    """A multi-query figure for the report: one row per query (query + top-k, green / red frames) under a title,
    drawn as one image that fills the figure, so its labels print at the size label_font chose."""
    import matplotlib.pyplot as plt
    data = Run(run_id).predictions(test_set)
    rows = [grid_image(data, q, data_root, k, size) for q in select_queries(data, n_queries, only_wrong)]
    width, gap = max(r.width for r in rows), 6
    font = ImageFont.load_default(size=max(10, size // 5))
    title = f"{SET_LABELS.get(test_set, test_set)}: query, then its top-{k}"
    canvas = Image.new("RGB", (width, font.size + 2 * gap + sum(r.height + gap for r in rows)), "white")
    ImageDraw.Draw(canvas).text((width // 2, gap), title, fill="black", font=font, anchor="ma")
    y = font.size + 2 * gap
    for row in rows:
        canvas.paste(row, (0, y))
        y += row.height + gap
    fig = plt.figure(figsize=(canvas.width / dpi, canvas.height / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(canvas)
    ax.set_axis_off()
    return fig
