"""Saved weights: the atomic checkpoint writer, a trained module loaded from a checkpoint (a torn one set aside),
and the evaluation of saved weights on a retrieval set.  What reads trained runs (evaluation,
notebooks, kNN, heatmaps) imports this, not the training loop."""
from __future__ import annotations

import io
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from vpr_lib.data import RetrievalDataset
from vpr_lib.data.transforms import eval_transform
from vpr_lib.errors import VPRInputError
from vpr_lib.evaluate import evaluate_descriptors, extract_descriptors
from vpr_lib.models.cache import cache_applies, prefix_features
from vpr_lib.paths import results_dir
from vpr_lib.results import atomic_write_bytes, is_torn, set_aside
from vpr_lib.runs import Run
from vpr_lib.train.module import VPRModule
from vpr_lib.settings import TRAIN_DEFAULTS


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, whole or not at all: a temporary file beside the target, fsync, rename. A full
    disk or a kill leaves the previous checkpoint, never a torn one."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options.")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(Path(path), buffer.getvalue())


def _in_run(checkpoint: Path) -> Run | None:
    """The run a checkpoint belongs to (one of its checkpoints), else None."""
    checkpoint = Path(checkpoint).resolve()
    parents = checkpoint.parents
    run = Run(parents[1].name) if len(parents) > 2 else None
    return run if run is not None and checkpoint.parent == run.checkpoints else None


def read_checkpoint(checkpoint: Path) -> dict | None:
    """A checkpoint's content, or None when it is torn (cut short by a crash of an older kit, a full disk, a copy):
    a torn checkpoint of a run of this store is set aside as `<name>.torn` and said, so that it never blocks a later
    run; any other file is left where it is. Other errors (permissions, a newer format) stop with the file named."""
    try:
        return torch.load(checkpoint, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - sorted below: torn, or a clear message
        first = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        if not is_torn(e):
            raise VPRInputError(f"Cannot read checkpoint {checkpoint}: {type(e).__name__}: {first}.") from None
        if _in_run(checkpoint) is None:
            raise VPRInputError(f"Checkpoint {checkpoint} is torn or not a checkpoint ({first}).") from None
        try:
            torn = set_aside(checkpoint)
        except OSError as moved:
            raise VPRInputError(f"Checkpoint {checkpoint} is torn ({first}) and cannot be set aside ({moved.strerror})"
                                f": delete it.") from None
        print(f"checkpoint {checkpoint} is torn ({type(e).__name__}: {first[:120]}): moved to {torn.name}",
              flush=True)
        return None


def load_module(checkpoint: Path) -> VPRModule:
    """A trained module from a checkpoint; its config (architecture, input size) comes with it.  The weights
    are the checkpoint's: the backbone is built without its initial weights (no ImageNet download).  A torn
    checkpoint of a run of this store is set aside, and the run marked incomplete (it trains again when next asked
    for): the error says so."""
    if not Path(checkpoint).is_file():
        raise VPRInputError(f"Checkpoint not found: {checkpoint} (expected e.g. {Run.CHECKPOINT_EXAMPLE}).")
    saved = read_checkpoint(checkpoint)  # read once
    if saved is None:
        run = _in_run(checkpoint)
        retrain = ""
        if run.is_complete():  # nothing of the old model is reused once it trains again
            run.forget_results(results_dir() / "grids" / run.id)
            retrain = f"; its run {run.id} is now incomplete and trains again when next asked for"
        raise VPRInputError(f"Checkpoint {checkpoint} is torn: set aside as {Path(checkpoint).name}.torn{retrain}.")
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
