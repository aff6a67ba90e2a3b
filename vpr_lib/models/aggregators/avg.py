"""Global average pooling + Linear: the course starter (avgpool → Linear(C → dim))."""
from torch import nn

from vpr_lib.models.aggregators import Aggregator, register


@register("avg")
class AvgPool(Aggregator):
    def __init__(self, in_shape, out_dim: int | None = 512):
        super().__init__(in_shape)
        channels = in_shape[0]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, out_dim) if out_dim else nn.Identity()
        self.out_dim = out_dim or channels

    def forward(self, x):
        return self.fc(self.pool(x).flatten(1))
