"""ConvAP (Ali-bey et al., GSV-Cities): Conv1×1 (C → out_channels), adaptive average pooling to s1 × s2 cells,
flattened: a descriptor of out_channels·s1·s2 (L2-normalised by the model)."""
from torch import nn

from vpr_lib.models.aggregators import Aggregator, register


@register("convap")
class ConvAP(Aggregator):
    checks_shape = True

    def __init__(self, in_shape, out_channels: int = 512, s1: int = 2, s2: int = 2):
        super().__init__(in_shape)
        self.channel_pool = nn.Conv2d(in_shape[0], out_channels, kernel_size=1)
        self.pool = nn.AdaptiveAvgPool2d((s1, s2))
        self.out_dim = out_channels * s1 * s2

    def forward(self, x):
        self.check_input(x)
        return self.pool(self.channel_pool(x)).flatten(1)
