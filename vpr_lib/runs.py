"""One run's folder in the results store, results/runs/<run id>/: the only module that knows its file names and
formats.  Training writes through a `Run`; evaluation, analyses, kNN, experiments and dispatch read through one.

    params.yaml  env.json  epochs.csv  epoch0.json  metrics.json (written last: it marks the run complete)
    predictions/<set>.npz  checkpoints/{best,last}.ckpt  tensorboard/  descriptors/<set>.npz  knn/<table>.csv  .lock
"""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from vpr_lib.errors import VPRInputError
from vpr_lib.paths import runs_dir
from vpr_lib.results import atomic_write_bytes, atomic_write_text, file_lock, set_aside


def set_slug(test_set: str) -> str:
    """A test set folder ('sf_xs/test') as one file or folder name ('sf_xs_test')."""
    return test_set.replace("/", "_")


class Run:
    """The folder of the run `run_id` in the store's runs (VPR_RUNS, or results/runs)."""

    PARAMS, ENV, EPOCHS, EPOCH0, METRICS = "params.yaml", "env.json", "epochs.csv", "epoch0.json", "metrics.json"
    BEST = "best"  # the best checkpoint's name, without Lightning's .ckpt (the last one is Lightning's last.ckpt)
    CHECKPOINT_EXAMPLE = "results/runs/<run id>/checkpoints/best.ckpt"

    def __init__(self, run_id: str):
        self.id = run_id
        self.dir = runs_dir() / run_id

    @classmethod
    def at(cls, folder: Path) -> "Run":
        """The run whose folder is `folder` (it must lie in this store's runs)."""
        run = cls(Path(folder).name)
        if run.dir != Path(folder).resolve():
            raise VPRInputError(f"{folder} is not a run folder of the store's runs ({runs_dir()}).")
        return run

    # paths
    params_file = property(lambda self: self.dir / self.PARAMS)
    env_file = property(lambda self: self.dir / self.ENV)
    epochs_file = property(lambda self: self.dir / self.EPOCHS)
    epoch0_file = property(lambda self: self.dir / self.EPOCH0)
    metrics_file = property(lambda self: self.dir / self.METRICS)
    checkpoints = property(lambda self: self.dir / "checkpoints")
    last_checkpoint = property(lambda self: self.dir / "checkpoints" / "last.ckpt")
    tensorboard = property(lambda self: self.dir / "tensorboard")

    def predictions_file(self, test_set: str) -> Path:
        return self.dir / "predictions" / f"{set_slug(test_set)}.npz"

    def descriptors_file(self, test_set: str) -> Path:
        return self.dir / "descriptors" / f"{set_slug(test_set)}.npz"

    def knn_file(self, name: str) -> Path:
        return self.dir / "knn" / f"{name}.csv"

    def is_complete(self) -> bool:
        return self.metrics_file.is_file()

    def lock(self):
        """Exclusive lock on the run: a second process asking for it waits, then finds it complete and reuses it."""
        return file_lock(self.dir / ".lock")

    # what training writes
    def write_params(self, config: dict) -> None:
        atomic_write_text(self.params_file, yaml.safe_dump(config, sort_keys=True))

    def write_env(self, env: dict) -> None:
        atomic_write_text(self.env_file, json.dumps(env, indent=1))

    def write_epoch0(self, recalls: dict) -> None:
        atomic_write_text(self.epoch0_file, json.dumps(recalls, indent=1))

    def write_metrics(self, metrics: dict) -> None:
        atomic_write_text(self.metrics_file, json.dumps(metrics, indent=1))

    def write_predictions(self, test_set: str, result: dict, dataset, root: Path) -> None:
        """A test set's per-query top-k predictions and distances, its positives, and the database's and queries'
        paths (relative to the data root) and UTMs: what every later analysis reads instead of the model."""
        positives = dataset.positives_per_query
        buf = io.BytesIO()
        np.savez_compressed(
            buf, predictions=result["predictions"], distances=result["distances"],
            positives=np.concatenate(positives) if positives else np.zeros(0, int),
            positives_offsets=np.cumsum([0] + [len(p) for p in positives]),
            database_paths=np.array([str(p.relative_to(root)) for p in dataset.database_paths]),
            queries_paths=np.array([str(p.relative_to(root)) for p in dataset.queries_paths]),
            database_utms=dataset.database_utms, queries_utms=dataset.queries_utms)
        atomic_write_bytes(self.predictions_file(test_set), buf.getvalue())

    def write_descriptors(self, test_set: str, descriptors: np.ndarray, database_num: int) -> None:
        buf = io.BytesIO()
        np.savez(buf, descriptors=descriptors, database_num=database_num)
        atomic_write_bytes(self.descriptors_file(test_set), buf.getvalue())

    # what the rest reads
    def metrics(self) -> dict:
        if not self.is_complete():
            raise VPRInputError(f"Run {self.id} is not complete (no {self.metrics_file.name} in {self.dir}).")
        return json.loads(self.metrics_file.read_text())

    def env(self) -> dict:
        return json.loads(self.env_file.read_text())

    def epochs(self) -> pd.DataFrame:
        return pd.read_csv(self.epochs_file)

    def epoch0(self) -> dict | None:
        """{test set name: {R@N: recall}} of the initial model, when recorded."""
        return json.loads(self.epoch0_file.read_text()) if self.epoch0_file.is_file() else None

    def best_checkpoint(self) -> Path:
        """The checkpoint a completed run was evaluated with (its best validation R@1)."""
        return self.checkpoints / self.metrics()["checkpoint"]

    def predictions(self, test_set: str) -> dict:
        """A test set folder's (e.g. 'sf_xs/test') saved predictions, positives unpacked to one array per query."""
        with np.load(self.predictions_file(test_set)) as npz:
            data = {k: npz[k] for k in npz.files}
        offsets, flat = data.pop("positives_offsets"), data.pop("positives")
        data["positives"] = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
        return data

    def descriptors(self, test_set: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(database, queries) descriptors cached for a test set, or None."""
        if not self.descriptors_file(test_set).is_file():
            return None
        with np.load(self.descriptors_file(test_set)) as npz:
            desc, n_db = npz["descriptors"], int(npz["database_num"])
        return desc[:n_db], desc[n_db:]

    def forget_results(self, *derived: Path) -> None:
        """Mark the run incomplete (its metrics set aside) and remove what was computed from its weights: the
        descriptor and kNN caches, and the `derived` folders outside the run (e.g. its prediction grids)."""
        set_aside(self.metrics_file)
        for folder in (self.dir / "descriptors", self.dir / "knn", *derived):
            shutil.rmtree(folder, ignore_errors=True)
