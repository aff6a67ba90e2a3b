"""BoQ, Bag-of-Queries (Ali-bey, Chaib-draa and Giguère, CVPR 2024): a 3x3 convolution projects the map to `dim`
channels; its H·W positions become tokens. Each of `layers` blocks refines the tokens (a Transformer encoder layer)
and lets a bag of `queries` learned queries (self-attention among them, then cross-attention to the tokens) read
them. The blocks' query outputs are stacked and a linear map over them keeps `rows`: a descriptor of dim·rows.
Attention works on any number of tokens, so any H x W gives the same size; `in_shape` fixes the channels."""
import torch
import torch.nn.functional as F
from torch import nn

from vpr_lib.errors import VPRInputError
from vpr_lib.models.aggregators import Aggregator, register


class Attention(nn.Module):
    """Multi-head attention of `x` to `context` (scaled dot products; FlopCounterMode counts every product)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query, self.key_value, self.out = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)

    def forward(self, x, context):
        (batch, n, dim), m, h = x.shape, context.shape[1], self.heads
        q = self.query(x).view(batch, n, h, dim // h).transpose(1, 2)
        k, v = self.key_value(context).view(batch, m, 2, h, dim // h).permute(2, 0, 3, 1, 4)
        return self.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, n, dim))


class QueryBlock(nn.Module):
    """tokens → (refined tokens, the queries' reading of them). The tokens pass an encoder layer (self-attention,
    then a feed-forward of 4·dim, each added and layer-normalised); the queries attend to each other, then read
    the tokens by cross-attention."""

    def __init__(self, dim: int, queries: int, heads: int):
        super().__init__()
        self.token_attention, self.norm_attended = Attention(dim, heads), nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Linear(4 * dim, dim))
        self.norm_tokens = nn.LayerNorm(dim)
        self.queries = nn.Parameter(torch.randn(1, queries, dim) * dim ** -0.5)
        self.query_attention, self.norm_queries = Attention(dim, heads), nn.LayerNorm(dim)
        self.cross_attention, self.norm_out = Attention(dim, heads), nn.LayerNorm(dim)

    def forward(self, tokens):
        tokens = self.norm_attended(tokens + self.token_attention(tokens, tokens))
        tokens = self.norm_tokens(tokens + self.feed_forward(tokens))
        q = self.queries.repeat(tokens.shape[0], 1, 1)
        q = self.norm_queries(q + self.query_attention(q, q))
        return tokens, self.norm_out(self.cross_attention(q, tokens))


@register("boq")
class BoQ(Aggregator):
    def __init__(self, in_shape, dim: int = 256, queries: int = 32, layers: int = 2, rows: int = 16,
                 heads: int = 4):
        super().__init__(in_shape)
        if dim % heads:
            raise VPRInputError(f"BoQ: dim ({dim}) must be a multiple of heads ({heads}).")
        self.channels = in_shape[0]
        self.project = nn.Conv2d(self.channels, dim, kernel_size=3, padding=1)
        self.norm_tokens = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList(QueryBlock(dim, queries, heads) for _ in range(layers))
        self.keep_rows = nn.Linear(layers * queries, rows)
        self.out_dim = dim * rows

    def forward(self, x):
        if x.shape[1] != self.channels:
            raise VPRInputError(f"BoQ was built for feature maps of {self.channels} channels and got {tuple(x.shape)}.")
        tokens = self.norm_tokens(self.project(x).flatten(2).transpose(1, 2))  # (B, H·W, dim)
        reads = []
        for block in self.blocks:
            tokens, read = block(tokens)
            reads.append(read)
        bag = torch.cat(reads, dim=1)  # (B, layers·queries, dim)
        return self.keep_rows(bag.transpose(1, 2)).flatten(1)  # (B, dim·rows)
