"""Losses and miners of pytorch-metric-learning, built by name with kwargs from the params."""
from __future__ import annotations

import torch
from pytorch_metric_learning import losses, miners

from vpr_lib.errors import VPRInputError

LOSSES = {
    "contrastive": losses.ContrastiveLoss,
    "triplet": losses.TripletMarginLoss,
    "multisimilarity": losses.MultiSimilarityLoss,
    "circle": losses.CircleLoss,
    "supcon": losses.SupConLoss,
    "ntxent": losses.NTXentLoss,
    "arcface": losses.ArcFaceLoss,
    "cosface": losses.CosFaceLoss,
    "normalized_softmax": losses.NormalizedSoftmaxLoss,
}
# Losses holding class weights: they need num_classes and embedding_size, and get their own optimizer.
CLASSIFICATION_LOSSES = {"arcface", "cosface", "normalized_softmax"}

MINERS = {
    "none": None,
    "multisimilarity": miners.MultiSimilarityMiner,
    "triplet": miners.TripletMarginMiner,
    "pairmargin": miners.PairMarginMiner,
    "batchhard": miners.BatchHardMiner,
    "batcheasyhard": miners.BatchEasyHardMiner,
    "angular": miners.AngularMiner,
    "uniformhistogram": miners.UniformHistogramMiner,
}


def _build(kind: str, registry: dict, name: str, kwargs: dict):
    if name not in registry:
        raise VPRInputError(f"Unknown {kind} {name!r}; expected one of {sorted(registry)}.")
    cls = registry[name]
    if cls is None:
        return None
    try:
        return cls(**(kwargs or {}))
    except TypeError as e:
        raise VPRInputError(f"Bad {kind}_kwargs for {name!r} ({cls.__name__}): {e}.") from None


def build_loss(name: str, kwargs: dict | None = None, num_classes: int | None = None,
               embedding_size: int | None = None):
    """A pytorch-metric-learning loss; classification losses get num_classes and embedding_size."""
    kwargs = dict(kwargs or {})
    if name in CLASSIFICATION_LOSSES:
        kwargs.setdefault("num_classes", num_classes)
        kwargs.setdefault("embedding_size", embedding_size)
    return _build("loss", LOSSES, name, kwargs)


def build_miner(name: str, kwargs: dict | None = None):
    """A pytorch-metric-learning miner, or None for 'none'."""
    return _build("miner", MINERS, name, kwargs)


def mined_fractions(mined: tuple, labels: torch.Tensor) -> dict:
    """What a miner kept, as fractions of every candidate in the batch.

    Pair miners return (anchor, positive, anchor, negative) indices: the kept fraction of positive pairs and of
    negative pairs.  Triplet miners return (anchor, positive, negative): the kept fraction of all triplets."""
    same = labels[:, None] == labels[None, :]
    positives = same.sum(1) - 1  # per anchor, itself excluded
    negatives = (~same).sum(1)
    if len(mined) == 4:
        return {"mined_pos": len(mined[0]) / max(int(positives.sum()), 1),
                "mined_neg": len(mined[2]) / max(int(negatives.sum()), 1)}
    return {"mined_triplets": len(mined[0]) / max(int((positives * negatives).sum()), 1)}
