"""Losses and miners of pytorch-metric-learning, built by name with kwargs from the params."""
from __future__ import annotations

import torch
from pytorch_metric_learning import losses, miners

from vpr_lib.errors import VPRInputError


class VICRegViews(torch.nn.Module):
    """VICReg (Bardes, Ponce and LeCun, ICLR 2022; pytorch-metric-learning's VICRegLoss) on a batch of K views per
    label: the views are paired (the 1st with the 2nd, the 3rd with the 4th, …) and the loss averaged over the
    pairs. Labels only group the views: with the self_supervised sampler they are image ids, not places.

    The kit retrieves with L2-normalised descriptors, whose D per-dimension variances sum to at most 1: their std
    averages at most 1/sqrt(D), and VICReg's variance hinge (a std of 1 in every dimension) could never be met. So
    the loss sees the descriptors on the unit sphere scaled by sqrt(D), where an even spread gives each dimension a
    std of about 1, the target it was made for."""

    def __init__(self, **kwargs):
        super().__init__()
        self.vicreg = losses.VICRegLoss(**kwargs)

    def forward(self, embeddings, labels, indices_tuple=None):
        order = torch.argsort(labels, stable=True)
        _, counts = torch.unique_consecutive(labels[order], return_counts=True)
        k = int(counts.min())
        if k < 2 or bool((counts != k).any()):
            raise VPRInputError(f"vicreg pairs the views of each label: it needs the same K >= 2 per label, got "
                                f"{sorted(set(counts.tolist()))}.")
        spread = torch.nn.functional.normalize(embeddings, dim=1) * embeddings.shape[1] ** 0.5
        views = spread[order].view(len(counts), k, -1)
        pairs = [(a, a + 1) for a in range(0, k - 1, 2)]
        return sum(self.vicreg(views[:, a], ref_emb=views[:, b]) for a, b in pairs) / len(pairs)


LOSSES = {
    "contrastive": losses.ContrastiveLoss,
    "triplet": losses.TripletMarginLoss,
    "multisimilarity": losses.MultiSimilarityLoss,
    "circle": losses.CircleLoss,
    "supcon": losses.SupConLoss,
    "ntxent": losses.NTXentLoss,
    "vicreg": VICRegViews,  # views paired within each label; no miner (validate)
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
