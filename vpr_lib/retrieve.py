"""Retrieval on a user's own photos: any two folders of images, whatever their names, ranked with a trained run's
model (the most asked-for feature in the VPR frameworks' trackers; gmberton/VPR-methods-evaluation's --no_labels).

    python -m vpr_lib.evaluate --run <run id> --queries DIR --database DIR [--top 5] [--out DIR]

Writes <out>/top<N>.csv (per query its N nearest database images: rank, path, descriptor distance; with UTM in
the names, also the distance in metres and whether it lies within the threshold) and <out>/grids/query_<i>.png
(the query, then its top N, as notebook 03's grids). When every name carries UTM in the '@' format, recall@N within
the threshold is reported too. Unreadable images are named and skipped, with a count."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from vpr_lib.data.images import list_images, load_resized
from vpr_lib.data.retrieval import utm_of
from vpr_lib.data.transforms import eval_transform
from vpr_lib.errors import VPRInputError
from vpr_lib.evaluate import compute_recalls, extract_descriptors, knn_search
from vpr_lib.paths import results_dir, runs_dir
from vpr_lib.results import atomic_write_bytes, atomic_write_text, ensure_writable
from vpr_lib.runs import Run
from vpr_lib.train.checkpoints import load_module
from vpr_lib.viz.grids import GREEN, GREY, RED, png_bytes, tile_row


def run_module(run_id: str):
    """The trained module of a completed run of this results store; an unknown id lists the runs there."""
    runs = runs_dir()
    if not (runs / run_id).is_dir():
        known = sorted(p.name for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
        listed = ", ".join(known[:20]) + (f", … ({len(known)} in all)" if len(known) > 20 else "")
        raise VPRInputError(f"Unknown run {run_id!r} in {runs}: " + (
            f"expected one of {listed}." if known else "it holds no run yet (train one, e.g. ./run_all.sh)."))
    return load_module(Run(run_id).best_checkpoint())


def read_folder(folder: Path, role: str, size) -> tuple[list[Path], torch.Tensor]:
    """Every readable image under `folder` decoded at `size`: (paths, uint8 images (N, 3, H, W)); the unreadable
    ones are named and skipped."""
    paths = list_images(folder, f"the {role} images (any names: jpg, jpeg or png)", recursive=True)
    readable, images, skipped = [], [], []
    for path in paths:
        try:
            images.append(load_resized(path, size))
            readable.append(path)
        except VPRInputError:
            skipped.append(str(path))
    if skipped:
        print(f"skipped {len(skipped)} unreadable {role} image(s) of {folder}: {', '.join(skipped[:5])}"
              + (" …" if len(skipped) > 5 else ""), flush=True)
    if not readable:
        raise VPRInputError(f"No readable image in {folder}: expected the {role} images.")
    return readable, torch.stack(images)


class _Normalised(torch.utils.data.Dataset):
    """Decoded images as evaluation feeds them ((image, index) items, for vpr_lib.evaluate.extract_descriptors)."""

    def __init__(self, images: torch.Tensor):
        self.images, self.normalise = images, eval_transform()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.normalise(self.images[index]), index


def utms(paths) -> np.ndarray | None:
    """(N, 2) UTM east/north when every name is in the '@' format, else None (unlabelled photos)."""
    try:
        return utm_of(paths)
    except VPRInputError:
        return None


def retrieve(run_id: str, queries: Path, database: Path, top: int = 5, out: Path | None = None,
             image_size: tuple | None = None, threshold: float | None = None) -> dict:
    """Rank `database` for every image of `queries` with run `run_id`'s model; returns {table, recalls, out}."""
    if top < 1:
        raise VPRInputError(f"--top must be a positive number of predictions, got {top}.")
    module = run_module(run_id)
    size = tuple(image_size or module.config["image_size"])
    try:
        module.model.check_input_size(size)  # before any image is read
    except VPRInputError as e:
        raise VPRInputError(f"Run {run_id}: {e} Leave out --image-size (your photos are resized to the run's "
                            "size).") from None
    db_paths, db_images = read_folder(Path(database), "database", size)
    q_paths, q_images = read_folder(Path(queries), "query", size)
    batch = module.config["eval_batch_size"]
    distances, predictions = knn_search(extract_descriptors(module.model, _Normalised(db_images), batch),
                                        extract_descriptors(module.model, _Normalised(q_images), batch), top)
    db_utm, q_utm = utms(db_paths), utms(q_paths)
    threshold = float(module.config["positive_dist_threshold"] if threshold is None else threshold)
    if threshold <= 0:
        raise VPRInputError(f"--threshold must be a positive distance in metres, got {threshold:g}.")
    rows = []
    for q, query in enumerate(q_paths):
        for rank, (d, index) in enumerate(zip(distances[q], predictions[q]), 1):
            row = {"query": str(query), "rank": rank, "database": str(db_paths[index]),
                   "descriptor_distance": round(float(np.sqrt(max(d, 0.0))), 4)}
            if db_utm is not None and q_utm is not None:
                metres = float(np.linalg.norm(db_utm[index] - q_utm[q]))
                row.update(distance_m=round(metres, 1), within_threshold=metres <= threshold)
            rows.append(row)
    table = pd.DataFrame(rows)
    out = Path(out or results_dir() / "retrieval" / run_id)
    try:
        building = Path(tempfile.mkdtemp(dir=ensure_writable(out.parent), prefix=f".{out.name}."))
    except VPRInputError:
        raise VPRInputError(f"Cannot write the results in {out}: its folder is not writable (give --out DIR).") from None
    try:
        _write(table, q_paths, top, building)
        if out.exists():  # replaced whole, once the new one is written: no grid of an earlier call left in it
            shutil.rmtree(out)
        building.rename(out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    recalls = None
    if db_utm is not None and q_utm is not None:
        positives = [np.flatnonzero(np.linalg.norm(db_utm - u, axis=1) <= threshold) for u in q_utm]
        recalls = compute_recalls(predictions, positives, tuple(n for n in (1, 5, 10, 20) if n <= top))
    return {"table": table, "recalls": recalls, "out": out, "threshold": threshold}


def _write(table: pd.DataFrame, q_paths, top: int, out: Path) -> None:
    """top<N>.csv and one grid per query into `out`."""
    atomic_write_text(out / f"top{top}.csv", table.to_csv(index=False))
    for q, query in enumerate(q_paths):
        ranked = table[table["query"] == str(query)]
        colours = ([GREEN if c else RED for c in ranked.within_threshold] if "within_threshold" in ranked
                   else [GREY] * len(ranked))
        labels = [f"#{r.rank}  {r.distance_m:.0f} m" if "distance_m" in ranked
                  else f"#{r.rank}  d={r.descriptor_distance:.2f}" for r in ranked.itertuples()]
        image = tile_row([query, *map(Path, ranked.database)], [GREY, *colours], [Path(query).name[:18], *labels])
        atomic_write_bytes(out / "grids" / f"query_{q:05d}.png", png_bytes(image))
