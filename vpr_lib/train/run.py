"""One run = train (or reuse, or resume) and evaluate, into its folder (vpr_lib.runs.Run): its settings,
environment, epochs (also as TensorBoard events), epoch-0 and final recalls, predictions per test set and best
checkpoint (and the last checkpoint while it trains, to resume from; removed once the run is complete).

A complete run is reused; one with a last checkpoint resumes from it.  A lock on the run folder makes a second
process asking for the same run wait and then reuse it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from vpr_lib.data.identity import file_digest
from vpr_lib.data.images import list_images, verify_images
from vpr_lib.data.layout import SET_LABELS
from vpr_lib.data.roots import dataset_identity, resolve_data_root
from vpr_lib.models.backbones import weights_file
from vpr_lib.models.cache import cache_applies
from vpr_lib.results import atomic_write_text, ensure_writable, environment, remove_stale
from vpr_lib.runs import Run
from vpr_lib.train.checkpoints import AtomicCheckpointIO, evaluate_module, load_module, read_checkpoint
from vpr_lib.train.checks import validate
from vpr_lib.train.data import VPRDataModule, init_clusters_from_data
from vpr_lib.train.initial import test_recalls
from vpr_lib.train.module import VPRModule
from vpr_lib.settings import NON_RESULT_KEYS



# bump when a change to the code changes what a run computes from the same settings and data, so that the runs of
# earlier code are retrained, not reused (2: the frozen prefix's batch norms are folded into its convolutions;
# 3: images decoded upright by their EXIF orientation)
COMPUTATION_VERSION = 3


def run_id(config: dict) -> str:
    """Readable prefix + digest of everything that changes the result: the settings (variant names and speed-only
    keys excluded), the content of the data the run reads and of a weights file it starts from (not their paths),
    and COMPUTATION_VERSION."""
    relevant = {k: v for k, v in sorted(config.items()) if k not in NON_RESULT_KEYS + ("variant", "profile")}
    relevant["computation"] = COMPUTATION_VERSION
    root = resolve_data_root(config["data_root"], config["profile"])
    relevant["data"] = dataset_identity(root, [config["train_set"], config["val_set"], *config["test_sets"]])
    weights = weights_file(config["pretrained"])
    if weights is not None:
        relevant["pretrained"] = f"content-{file_digest(weights)}"
    digest = hashlib.sha1(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{config['aggregator']}-{config['loss']}-s{config['seed']}-{digest}"


def run_of(config: dict) -> Run:
    return Run(run_id(config))


class EpochLog(Callback):
    """epochs.csv: one row per epoch (0 = before training) with loss, learning rate, val recalls, the seconds
    of the epoch's training part (`train_s`, validation excluded) and, for mined triplets, of their mining
    (`mining_s`) with the number of images the model described to mine them (`described_images`)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.started, self.train_s = None, np.nan

    def on_train_epoch_start(self, trainer, pl_module):
        self.started = time.perf_counter()

    def on_validation_epoch_start(self, trainer, pl_module):
        if trainer.state.fn == "fit" and self.started is not None:
            self.train_s, self.started = time.perf_counter() - self.started, None

    def _write(self, trainer, epoch: int):
        if not trainer.is_global_zero:
            return
        m = {k: float(v) for k, v in trainer.callback_metrics.items()}
        row = {"epoch": epoch, "train_loss": round(m.get("train/loss", np.nan), 5) if epoch else np.nan,
               "lr": trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else np.nan}
        if epoch:
            row.update({k.split("/")[1]: round(v, 4) for k, v in m.items() if k.startswith("train/mined")})
            row["train_s"] = round(self.train_s, 2)
            mining = getattr(trainer.datamodule, "triplet_batches", None)
            if mining is not None:
                row["mining_s"] = round(mining.mining_seconds, 2)
                row["described_images"] = mining.described_images
        row.update({k.split("/")[1]: round(v, 3) for k, v in m.items() if k.startswith("val/")})
        table = pd.read_csv(self.path) if self.path.exists() else pd.DataFrame()
        if len(table):
            table = table[table.epoch != epoch]
        table = pd.concat([table, pd.DataFrame([row])]).sort_values("epoch")
        atomic_write_text(self.path, table.to_csv(index=False))

    def on_validation_end(self, trainer, pl_module):
        if trainer.state.fn == "validate":  # the epoch-0 baseline, before any training
            self._write(trainer, 0)

    def on_train_epoch_end(self, trainer, pl_module):
        self._write(trainer, trainer.current_epoch + 1)


def _trainer(config: dict, callbacks, progress: bool, run: Run) -> L.Trainer:
    """Lightning's Trainer for a run; TensorBoard events (losses, val recalls, learning rate per epoch) go to
    <run>/tensorboard/, so `tensorboard --logdir results/runs` shows a study's runs side by side."""
    cpu = config["accelerator"] == "cpu" or not torch.cuda.is_available()
    logger = TensorBoardLogger(save_dir=str(run.dir), name=run.tensorboard.name, version="", default_hp_metric=False)
    return L.Trainer(max_epochs=config["epochs"], limit_train_batches=config["limit_train_batches"],
                     accelerator=config["accelerator"], devices=config["devices"], strategy=config["strategy"],
                     num_nodes=config["num_nodes"],
                     precision="32-true" if cpu and "16" in str(config["precision"]) else config["precision"],
                     deterministic=True if cpu else "warn", logger=logger,
                     callbacks=[*callbacks, LearningRateMonitor(logging_interval="epoch")],
                     plugins=[AtomicCheckpointIO()],
                     enable_progress_bar=progress, enable_model_summary=False, num_sanity_val_steps=0,
                     log_every_n_steps=1)  # metrics are logged per epoch only; no warning on short epochs


@contextlib.contextmanager
def _quiet(progress: bool):
    """Without progress bars (notebooks under papermill), leave out Lightning's per-run banners (accelerator,
    tips, "fit stopped") and a torch deprecation raised inside Lightning; warnings and errors still show."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    if not progress:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")  # the frozen prefix
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")  # resuming
            # where SLURM is installed but a run trains outside a job (a notebook): one process, no srun needed
            warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system but is not used")
            yield
    finally:
        logger.setLevel(level)


def train(config: dict, progress: bool = True) -> Path:
    """Train (or reuse / resume) one run and evaluate it on its test sets; returns the run folder."""
    validate(config)
    run = run_of(config)
    if run.is_complete():
        return run.dir
    root = resolve_data_root(config["data_root"], config["profile"])
    L.seed_everything(config["seed"], workers=True, verbose=False)
    # bad data or settings stop here, before anything is written: the sets are read and every image they will feed
    # is decoded once, and the model, loss, miner, optimizer and scheduler are built
    data = VPRDataModule(config, root)
    verify_images(data.train_set.paths + data.val_set.paths + [
        p for rel in config["test_sets"] for role in ("database", "queries")
        for p in list_images(root / rel / role, f"the {role} images of the test set {rel}")])
    module = VPRModule(config, data.num_classes)
    module.configure_optimizers()
    ensure_writable(run.dir.parent)
    worker = os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("RANK", "0") != "0"  # DDP ranks > 0
    with contextlib.nullcontext() if worker else run.lock():
        if run.is_complete():  # another process completed it while this one waited for the lock
            return run.dir
        with _quiet(progress):
            _fit_and_evaluate(config, run, root, data, module, progress)
    return run.dir


class Stopwatch(Callback):
    """The seconds a run has taken, summed over the processes that trained it (kept in its checkpoints)."""

    def __init__(self):
        self.before, self.start = 0.0, time.time()

    @property
    def seconds(self) -> float:
        return self.before + time.time() - self.start

    def state_dict(self) -> dict:
        return {"seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.before = state["seconds"]


def _fit_and_evaluate(config: dict, run: Run, root: Path, data: VPRDataModule, module: VPRModule,
                      progress: bool) -> None:
    last = run.last_checkpoint
    for stale in remove_stale(run.dir, "**/.*.tmp"):  # temporary files of a killed process (we hold the lock)
        print(f"removed {stale.relative_to(run.dir.parent)}, left by a killed process", flush=True)
    if last.exists() and read_checkpoint(last) is None:  # torn: set aside and said; the run starts over
        print(f"{run.id} starts over: its last checkpoint is torn", flush=True)
    module.val_positives, module.val_database_num = data.val_set.positives_per_query, data.val_set.database_num
    if cache_applies(config):
        data.use_prefix_cache(module.model.backbone)
    best = ModelCheckpoint(dirpath=run.checkpoints, filename=Run.BEST, monitor="val/R@1", mode="max", save_last=True,
                           save_top_k=1, enable_version_counter=False)
    stopwatch = Stopwatch()
    callbacks = [best, EpochLog(run.epochs_file), stopwatch, *data.sampling.callbacks()]
    if not last.exists():  # a fresh start: no events of an earlier attempt beside this one's
        shutil.rmtree(run.tensorboard, ignore_errors=True)
    trainer = _trainer(config, callbacks, progress, run)
    if trainer.is_global_zero:
        run.write_params(config)
        run.write_env(environment())
    if not last.exists():  # a fresh run: NetVLAD-like heads start from k-means, then the epoch-0 baseline
        init_clusters_from_data(module, data.train_set, config["seed"])
        trainer.validate(module, datamodule=data, verbose=False)
        if trainer.is_global_zero:  # and on the test sets, while the initial weights are at hand
            run.write_epoch0(test_recalls(module, config, root))
    elif trainer.is_global_zero:
        print(f"resuming {run.id} from {last.relative_to(run.dir.parent)}", flush=True)
    trainer.fit(module, datamodule=data, ckpt_path=str(last) if last.exists() else None)
    if trainer.is_global_zero:
        checkpoint = Path(best.best_model_path or last)
        evaluate_run(run, checkpoint, root, config, train_seconds=stopwatch.seconds)


def evaluate_run(run: Run, checkpoint: Path, root: Path, config: dict, train_seconds: float) -> dict:
    """The run's predictions per test set, then its metrics (written last: they mark the run complete)."""
    metrics = {"checkpoint": checkpoint.name, "train_seconds": round(train_seconds, 1), "test": {}}
    module = load_module(checkpoint)
    for rel in config["test_sets"]:
        dataset, result = evaluate_module(module, root / rel)
        metrics["test"][SET_LABELS.get(rel, rel)] = result["recalls"]
        run.write_predictions(rel, result, dataset, root)
    trained = run.epochs().query("epoch > 0")
    metrics["best_epoch"] = int(trained.loc[trained["R@1"].idxmax(), "epoch"])
    run.write_metrics(metrics)
    if checkpoint.name != run.last_checkpoint.name:  # a complete run is reused, never resumed: no need of its last
        run.last_checkpoint.unlink(missing_ok=True)
    return metrics
