"""Activation heatmaps over a query (report 001 figure 4): where the backbone's last feature map is strong.

The map is the L2 norm over channels of the feature map the aggregator receives, upsampled to the image;
for GeM it is the per-position contribution to the pooled descriptor, Σ_c x_c^p (what GeM averages).
This needs the model (a checkpoint), unlike the grids."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vpr_lib.data.images import load_image, load_resized
from vpr_lib.data.transforms import eval_transform


@torch.no_grad()
def activation_map(module, image_path: Path) -> np.ndarray:
    """(H, W) map in [0, 1] at the model's input size, for one image."""
    model = module.model.eval()
    size = model.image_size
    x = eval_transform()(load_resized(image_path, size))[None]
    features = model.backbone(x.contiguous(memory_format=torch.channels_last)).float().clamp(min=0)
    p = getattr(model.aggregator, "p", None)
    heat = features.pow(float(p)).sum(1) if p is not None else features.norm(dim=1)
    heat = F.interpolate(heat[None], size=size, mode="bilinear", align_corners=False)[0, 0]
    heat = heat - heat.min()
    return (heat / heat.max().clamp(min=1e-12)).numpy()


def heatmap_figure(module, image_paths: list[Path], titles: list[str] | None = None):
    """Each image with its activation map overlaid (one column per image)."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(image_paths), figsize=(1.9 * len(image_paths), 3.8), squeeze=False)
    for i, path in enumerate(image_paths):
        heat = activation_map(module, path)
        image = np.asarray(load_image(path))
        height, width = image.shape[:2]
        axes[0, i].imshow(image)
        axes[1, i].imshow(image)
        axes[1, i].imshow(heat, cmap="jet", alpha=0.5, extent=(0, width, height, 0))
        axes[0, i].set_title(titles[i] if titles else Path(path).name[:12], fontsize=7)
        for ax in axes[:, i]:
            ax.set_axis_off()
    fig.tight_layout()
    return fig
