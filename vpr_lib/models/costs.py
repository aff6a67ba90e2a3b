"""What a model costs per image: descriptor size, parameters, FLOPs and extraction time (Gambino et al.'s report tables 1–3).

FLOPs are counted by torch's FlopCounterMode (matrix multiplications and convolutions, 1 multiply-add = 2
FLOPs); the time is the median over `repeats` timed batches of a forward pass on the CPU (after one warm-up
batch), divided by the batch size: a measurement of this machine, not a property of the model."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from vpr_lib.models import VPRModel


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def model_costs(model: VPRModel, batch: int = 32, repeats: int = 5) -> dict:
    model = model.eval()
    x = torch.randn(batch, 3, *model.image_size)
    with FlopCounterMode(display=False) as counter:
        model(x[:1])
    model(x)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return {"backbone": model.backbone.name, "feature map (C, H, W)": model.feature_shape,
            "descriptor dim": model.descriptor_dim, "aggregator params": _count(model.aggregator), "total params (M)": round(_count(model) / 1e6, 2),
            "GFLOPs / image": round(counter.get_total_flops() / 1e9, 3),
            "extraction ms / image": round(1e3 * float(np.median(times)) / batch, 3)}


def variant_costs(configs: list[dict], **kwargs) -> pd.DataFrame:
    """model_costs of each variant's run config (the first of its seeds; untrained models: costs do not depend on
    weights), built as training builds them (VPRModel.from_config)."""
    rows, seen = [], set()
    for config in configs:
        if config["variant"] not in seen:
            seen.add(config["variant"])
            model = VPRModel.from_config(config, pretrained="none")
            rows.append({"variant": config["variant"], "aggregator": config["aggregator"],
                         **model_costs(model, **kwargs)})
    return pd.DataFrame(rows).set_index("variant")
