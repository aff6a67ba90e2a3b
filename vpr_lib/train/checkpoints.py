"""Saved runs: whether a run is complete, the checkpoint it was evaluated with, a trained module loaded from a
checkpoint, and the evaluation of saved weights on a retrieval set.  What reads trained runs (evaluation,
notebooks, kNN, heatmaps) imports this, not the training loop."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from vpr_lib.data import RetrievalDataset
from vpr_lib.data.transforms import eval_transform
from vpr_lib.errors import VPRInputError
from vpr_lib.evaluate import evaluate_descriptors, extract_descriptors
from vpr_lib.models.cache import cache_applies, prefix_features
from vpr_lib.paths import results_dir
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


def load_module(checkpoint: Path) -> VPRModule:
    """A trained module from a checkpoint; its config (architecture, input size) comes with it.  The weights
    are the checkpoint's: the backbone is built without its initial weights (no ImageNet download)."""
    if not Path(checkpoint).is_file():
        raise VPRInputError(f"Checkpoint not found: {checkpoint} (expected results/runs/<run>/checkpoints/best.ckpt).")
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)  # read once
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
