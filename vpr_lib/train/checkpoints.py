"""Saved runs: whether a run is complete, the checkpoint it was evaluated with, a trained module loaded from a
checkpoint, and the evaluation of saved weights on a retrieval set.  What reads trained runs (evaluation,
notebooks, kNN, heatmaps) imports this, not the training loop."""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from vpr_lib.data import RetrievalDataset
from vpr_lib.data.transforms import eval_transform
from vpr_lib.errors import VPRInputError
from vpr_lib.evaluate import evaluate_descriptors, extract_descriptors
from vpr_lib.models.cache import cache_applies, prefix_features
from vpr_lib.paths import results_dir
from vpr_lib.results import atomic_write_bytes, set_aside
from vpr_lib.train.module import VPRModule
from vpr_lib.train.settings import TRAIN_DEFAULTS


def is_complete(run_dir: Path) -> bool:
    return (Path(run_dir) / "metrics.json").is_file()


def best_checkpoint(run_id: str) -> Path:
    """The checkpoint a completed run was evaluated with (its best validation R@1)."""
    run_dir = results_dir() / "runs" / run_id
    if not is_complete(run_dir):
        raise VPRInputError(f"Run {run_id} is not complete (no metrics.json in {run_dir}).")
    return run_dir / "checkpoints" / json.loads((run_dir / "metrics.json").read_text())["checkpoint"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, whole or not at all: a temporary file beside the target, fsync, rename. A full
    disk or a kill leaves the previous checkpoint, never a torn one."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options.")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(Path(path), buffer.getvalue())


def read_checkpoint(checkpoint: Path) -> dict | None:
    """A checkpoint's content, or None when it does not load (torn by a crash of an older kit, a full disk, a copy
    cut short): the file is then set aside as `<name>.torn` and said, so that it never blocks a later run."""
    try:
        return torch.load(checkpoint, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError… for a torn file
        torn = set_aside(checkpoint)
        print(f"checkpoint {checkpoint} does not load ({type(e).__name__}: {str(e).splitlines()[0][:120]}): moved "
              f"to {torn.name}", flush=True)
        return None


def load_module(checkpoint: Path) -> VPRModule:
    """A trained module from a checkpoint; its config (architecture, input size) comes with it.  The weights
    are the checkpoint's: the backbone is built without its initial weights (no ImageNet download).  A checkpoint
    that does not load is set aside, and a complete run it belonged to is marked incomplete (it trains again when
    next asked for): the error says so."""
    if not Path(checkpoint).is_file():
        raise VPRInputError(f"Checkpoint not found: {checkpoint} (expected results/runs/<run>/checkpoints/best.ckpt).")
    saved = read_checkpoint(checkpoint)  # read once
    if saved is None:
        metrics = Path(checkpoint).parent.parent / "metrics.json"
        retrain = ""
        if metrics.is_file():
            set_aside(metrics)
            retrain = f"; its run {metrics.parent.name} is now incomplete and trains again when next asked for"
        raise VPRInputError(f"Checkpoint {checkpoint} is torn or unreadable: set aside as {Path(checkpoint).name}"
                            f".torn{retrain}.")
    hparams = saved["hyper_parameters"]
    # keys added since the checkpoint was written (e.g. backbone) take their defaults: what those runs used
    config = {**TRAIN_DEFAULTS, **hparams["config"], "pretrained": "none"}
    module = VPRModule(config, hparams["num_classes"])
    module.load_state_dict(saved["state_dict"])
    return module.eval()


def evaluate_module(module: VPRModule, dataset_dir: Path, threshold: float | None = None, device=None,
                    return_descriptors: bool = False):
    """Recalls + predictions (+ the descriptors) of a trained module on a retrieval set (no training)."""
    config = module.config
    dataset = RetrievalDataset(dataset_dir, threshold or config["positive_dist_threshold"], eval_transform(),
                               config["image_size"])
    if cache_applies(config):
        dataset.use_features(prefix_features(module.model.backbone, config["image_size"], dataset.paths))
    device = device or ("cuda" if torch.cuda.is_available() and config["accelerator"] != "cpu" else "cpu")
    descriptors = extract_descriptors(module.model, dataset, config["eval_batch_size"], config["num_workers"],
                                      device)
    result = evaluate_descriptors(descriptors, dataset)
    return dataset, {**result, "descriptors": descriptors} if return_descriptors else result


def evaluate_checkpoint(checkpoint: Path, dataset_dir: Path, threshold: float | None = None, device=None,
                        return_descriptors: bool = False):
    """Recalls + predictions of saved weights on a retrieval set (course step 3)."""
    return evaluate_module(load_module(checkpoint), dataset_dir, threshold, device, return_descriptors)
