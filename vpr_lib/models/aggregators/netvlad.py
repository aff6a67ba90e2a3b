"""NetVLAD (Arandjelović et al., CVPR 2016) and its context re-weighted variants (Gambino et al.'s report §3).

Local features x_i (L2-normalised over channels) are softly assigned to K clusters,
    a_k(x_i) = softmax_k(w_k·x_i + b_k),   V_k = Σ_i m_i a_k(x_i) (x_i − c_k),
each V_k is L2-normalised (intra-normalisation), then the flattened K·C vector.  The centroids c_k come from
k-means (faiss) on local features of training images, and the assignment conv from them (Gambino et al.'s report eq. 4):
w_k = 2α c_k, b_k = −α‖c_k‖², with α chosen so that the nearest centroid outweighs the second one 100:1.
The weight m_i is 1 for NetVLAD; CRN (Kim et al., CVPR 2017) predicts it in (0, 2) from context: 2×2 average pooling,
3×3 / 5×5 / 7×7 convolutions (32, 32, 20 filters), a 1×1 fusion and upsampling back; CRN2 replaces pooling
and the large kernels by stacked dilated 3×3 convolutions at full resolution.
"""
from __future__ import annotations

import faiss
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vpr_lib.errors import VPRInputError
from vpr_lib.models.aggregators import Aggregator, register


class ContextMask(nn.Module):
    """CRN: multi-scale context filters on a pooled map → one re-weighting mask m (B, 1, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.pool = nn.AvgPool2d(2, ceil_mode=True)
        self.filters = nn.ModuleList(nn.Conv2d(channels, n, k, padding=k // 2) for k, n in ((3, 32), (5, 32), (7, 20)))
        self.fuse = nn.Conv2d(84, 1, 1)

    def forward(self, x):
        pooled = self.pool(x)
        mask = self.fuse(torch.cat([F.relu(f(pooled)) for f in self.filters], dim=1))
        return F.interpolate(mask, size=x.shape[-2:], mode="bilinear", align_corners=False)


class DilatedContextMask(nn.Module):
    """CRN2: stacked 3×3 convolutions with dilation 1, 2, 3 at full resolution (no pooling), 1×1 fusion."""

    def __init__(self, channels: int, width: int = 32):
        super().__init__()
        layers, c_in = [], channels
        for dilation in (1, 2, 3):
            layers += [nn.Conv2d(c_in, width, 3, padding=dilation, dilation=dilation), nn.ReLU()]
            c_in = width
        self.filters = nn.Sequential(*layers)
        self.fuse = nn.Conv2d(width, 1, 1)

    def forward(self, x):
        return self.fuse(self.filters(x))


CONTEXTS = {"none": None, "crn": ContextMask, "crn2": DilatedContextMask}


@register("netvlad")
class NetVLAD(Aggregator):
    checks_shape = True

    def __init__(self, in_shape, clusters: int = 64, context: str = "none", init_images: int = 500):
        super().__init__(in_shape)
        channels = in_shape[0]
        self.clusters, self.init_images = clusters, init_images
        self.assign = nn.Conv2d(channels, clusters, kernel_size=1)
        self.centroids = nn.Parameter(torch.rand(clusters, channels))
        if context not in CONTEXTS:
            raise VPRInputError(f"NetVLAD: context {context!r} unknown; expected one of {sorted(CONTEXTS)}.")
        self.context = CONTEXTS[context](channels) if CONTEXTS[context] else None
        if self.context is not None:  # the mask starts at 1 everywhere: a CRN starts as the plain NetVLAD
            nn.init.zeros_(self.context.fuse.weight)
            nn.init.zeros_(self.context.fuse.bias)
        self.out_dim = clusters * channels

    def soft_assignment(self, x):
        """(B, K, H, W) assignment of every position to every cluster, and the context mask (or None)."""
        self.check_input(x)
        x = F.normalize(x, dim=1)
        assignment = F.softmax(self.assign(x), dim=1)
        mask = 2 * torch.sigmoid(self.context(x)) if self.context is not None else None  # in (0, 2), 1 at start
        return assignment, mask

    def assignment(self, maps):
        return self.soft_assignment(maps)

    def forward(self, x):
        assignment, mask = self.soft_assignment(x)
        if mask is not None:
            assignment = assignment * mask
        x = F.normalize(x, dim=1).flatten(2)                               # (B, C, N)
        assignment = assignment.flatten(2)                                 # (B, K, N)
        vlad = assignment @ x.transpose(1, 2) - assignment.sum(-1, keepdim=True) * self.centroids  # (B, K, C)
        return F.normalize(F.normalize(vlad, dim=2).flatten(1), dim=1)

    @torch.no_grad()
    def init_clusters(self, local_features: np.ndarray, seed: int = 0) -> None:
        """k-means (faiss) on (N, C) local features → centroids, assignment conv w = 2αc, b = −α‖c‖²."""
        features = np.ascontiguousarray(local_features, dtype=np.float32)
        faiss.normalize_L2(features)
        kmeans = faiss.Kmeans(features.shape[1], self.clusters, niter=50, seed=seed, verbose=False,
                              min_points_per_centroid=1, max_points_per_centroid=1000)
        kmeans.train(features)
        centroids = kmeans.centroids / np.linalg.norm(kmeans.centroids, axis=1, keepdims=True).clip(1e-12)
        top2 = np.sort(features @ centroids.T, axis=1)[:, -2:]           # the two largest similarities
        alpha = float(np.log(100.0) / (2.0 * max(np.mean(top2[:, 1] - top2[:, 0]), 1e-6)))  # logit gap 2αΔ = ln 100
        c = torch.from_numpy(centroids)
        self.centroids.copy_(c)
        self.assign.weight.copy_((2.0 * alpha * c)[:, :, None, None])
        self.assign.bias.copy_(-alpha * c.pow(2).sum(1))


@register("crn")
class CRN(NetVLAD):
    def __init__(self, in_shape, clusters: int = 64, init_images: int = 500):
        super().__init__(in_shape, clusters, "crn", init_images)


@register("crn2")
class CRN2(NetVLAD):
    def __init__(self, in_shape, clusters: int = 64, init_images: int = 500):
        super().__init__(in_shape, clusters, "crn2", init_images)
