"""BoQ, Bag-of-Queries (Ali-bey, Chaib-draa and Giguère, CVPR 2024): a 3x3 convolution projects the map to `dim`
channels; its H·W positions become tokens. Each of `layers` blocks refines the tokens (a Transformer encoder layer)
and lets a bag of `queries` learned queries (self-attention among them, then cross-attention to the tokens) read
them. The blocks' query outputs are stacked and a linear map over them keeps `rows`: a descriptor of dim·rows.
Attention works on any number of tokens, so any H x W gives the same size; `in_shape` fixes the channels."""
import torch
from torch import nn

from vpr_lib.errors import VPRInputError
from vpr_lib.models.aggregators import register


class QueryBlock(nn.Module):
    """tokens → (refined tokens, the queries' reading of them)."""

    def __init__(self, dim: int, queries: int, heads: int):
        super().__init__()
        self.encode = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=0.0, batch_first=True)
        self.queries = nn.Parameter(torch.randn(1, queries, dim) * dim ** -0.5)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_queries = nn.LayerNorm(dim)
        self.cross_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_out = nn.LayerNorm(dim)

    def forward(self, tokens):
        tokens = self.encode(tokens)
        q = self.queries.expand(tokens.shape[0], -1, -1)
        q = self.norm_queries(q + self.self_attention(q, q, q, need_weights=False)[0])
        read = self.cross_attention(q, tokens, tokens, need_weights=False)[0]
        return tokens, self.norm_out(read)


@register("boq")
class BoQ(nn.Module):
    def __init__(self, in_shape, dim: int = 256, queries: int = 32, layers: int = 2, rows: int = 16,
                 heads: int = 4):
        super().__init__()
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
