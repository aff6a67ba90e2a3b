"""Generalised-mean pooling (Radenović et al.): (mean x^p)^(1/p) per channel, p learnable."""
import torch
import torch.nn.functional as F
from torch import nn

from vpr_lib.models.aggregators import Aggregator, register


@register("gem")
class GeM(Aggregator):
    def __init__(self, in_shape, p: float = 3.0, eps: float = 1e-6, out_dim: int | None = None):
        super().__init__(in_shape)
        channels = in_shape[0]
        self.p = nn.Parameter(torch.ones(1) * p)
        self.eps = eps
        self.fc = nn.Linear(channels, out_dim) if out_dim else nn.Identity()
        self.out_dim = out_dim or channels

    def heatmap(self, maps):
        """Per position, what GeM averages: the sum over channels of x^p."""
        return maps.pow(float(self.p)).sum(1)

    def forward(self, x):
        pooled = F.avg_pool2d(x.clamp(min=self.eps).pow(self.p), x.shape[-2:]).pow(1.0 / self.p)
        return self.fc(pooled.flatten(1))
