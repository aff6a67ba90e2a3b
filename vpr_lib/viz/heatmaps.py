"""Activation heatmaps over a query (Gambino et al.'s report figure 4): where the backbone's last feature map is strong.

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
    heat = model.aggregator.heatmap(features)  # the aggregator says where its descriptor draws from
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
        axes[0, i].set_title(titles[i] if titles else Path(path).name[:12], fontsize=15)  # about 8 pt printed
        for ax in axes[:, i]:
            ax.set_axis_off()
    fig.tight_layout()
    return fig


@torch.no_grad()
def assignment_maps(module, image_path: Path):
    """NetVLAD-family heads: the dominant cluster of every position (H', W') and the CRN mask (H', W'), or None."""
    model = module.model.eval()
    x = eval_transform()(load_resized(image_path, model.image_size))[None]
    found = model.aggregator.assignment(model.backbone(x.contiguous(memory_format=torch.channels_last)))
    if found is None:
        return None
    assignment, mask = found
    return assignment[0].argmax(0).numpy(), None if mask is None else mask[0, 0].numpy()


def assignment_figure(modules: dict, image_paths: list[Path]):
    """For each image (columns): the image, then per head (rows) its dominant clusters, and its context mask
    when it has one (Gambino et al.'s report figure 4)."""
    import matplotlib.pyplot as plt
    maps = {path: {name: assignment_maps(module, path) for name, module in modules.items()} for path in image_paths}
    rows = [("image", None, None)]
    for name in modules:
        if maps[image_paths[0]][name] is None:
            raise ValueError(f"{name}: its aggregator has no soft assignment (the NetVLAD family's) to draw")
        rows.append((f"{name}\nclusters", name, 0))
        if maps[image_paths[0]][name][1] is not None:  # a context mask (CRN)
            rows.append((f"{name}\nmask", name, 1))
    fig, axes = plt.subplots(len(rows), len(image_paths), figsize=(1.8 * len(image_paths), 1.8 * len(rows)),
                             squeeze=False)
    for i, path in enumerate(image_paths):
        image = np.asarray(load_image(path))
        extent = (0, image.shape[1], image.shape[0], 0)
        for r, (label, name, which) in enumerate(rows):
            ax = axes[r, i]
            ax.imshow(image)
            if name is not None:  # which: 0 = dominant clusters, 1 = context mask
                ax.imshow(maps[path][name][which], cmap="viridis" if which else "tab20", alpha=0.55, extent=extent,
                          interpolation="nearest", **({"vmin": 0, "vmax": 2} if which else {}))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(label, fontsize=22)  # on two lines; scaled to a column (about 0.37), about 8 pt there
    fig.tight_layout()
    return fig
