"""MixVPR (Ali-bey et al., WACV 2023): feature-mixer MLPs over the flattened spatial map of every channel,
then a channel projection (C → out_channels) and a row projection (H·W → out_rows): out_channels·out_rows.
The Linear sizes depend on H·W, so the input resolution is fixed; it is derived from backbone + image size."""
from torch import nn

from vpr_lib.models.aggregators import Aggregator, register


class FeatureMixer(nn.Module):
    """x + MLP(LayerNorm(x)) over the H·W positions of each channel."""

    def __init__(self, size: int, mlp_ratio: float = 1.0):
        super().__init__()
        hidden = max(1, int(size * mlp_ratio))
        self.mix = nn.Sequential(nn.LayerNorm(size), nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, size))

    def forward(self, x):
        return x + self.mix(x)


@register("mixvpr")
class MixVPR(Aggregator):
    checks_shape = True
    fixed_input = True

    def __init__(self, in_shape, out_channels: int = 512, out_rows: int = 4, mix_depth: int = 4,
                 mlp_ratio: float = 1.0):
        super().__init__(in_shape)
        channels, height, width = self.in_shape
        self.mixers = nn.Sequential(*[FeatureMixer(height * width, mlp_ratio) for _ in range(mix_depth)])
        self.channel_proj = nn.Linear(channels, out_channels)
        self.row_proj = nn.Linear(height * width, out_rows)
        self.out_dim = out_channels * out_rows

    def forward(self, x):
        self.check_input(x)
        x = self.mixers(x.flatten(2))                    # (B, C, H·W)
        x = self.channel_proj(x.permute(0, 2, 1))        # (B, H·W, out_channels)
        x = self.row_proj(x.permute(0, 2, 1))            # (B, out_channels, out_rows)
        return x.flatten(1)
