"""Seed attention pooling: a learned seed query attends over the tokens.

Posts: "The Fall of Attention?"; "Tales From The Attention World"; "LambdaNetworks: A Quick
Glimpse"
Papers: Lee et al., "Set Transformer", ICML 2019 (PMA: pooling by multi-head attention with
a seed); Vaswani et al., "Attention Is All You Need", NeurIPS 2017

"The Fall of Attention?": one learnable seed, one head, so the tokens behind a decision can
be read off the weights. "Tales From The Attention World": in shallow nets scaled dot
products give near-uniform weights, so L2-normalise query and keys and multiply the cosine
by a constant; no dropout after the softmax; no value projection, so the output lives in the
tokens' own space. "LambdaNetworks: A Quick Glimpse": the seed-based encoder.

    score_t = scale * cos(seed, W_k x_t)          (padding: -inf)
    a = softmax(score)                            weights, sum to 1 over real tokens
    pooled = Σ_t a_t x_t                          no value projection

With ``heads`` > 1 each head owns a dim/heads slice of the tokens and its own seed.
Shape contract: (B, T, D), mask (B, T) -> ((B, D), weights (B, T), or (B, H, T) for H > 1).
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.config import heads_divide_dim
from zoo_core.interfaces import Pooler


class SeedAttentionPooler(Pooler):
    def __init__(self, *, dim: int = 64, heads: int = 1, scale: float = 10.0):
        super().__init__()
        heads_divide_dim(dim, heads)
        self.dim, self.heads, self.scale = dim, heads, scale
        self.seed = nn.Parameter(torch.randn(heads, dim // heads))
        self.to_k = nn.Linear(dim, dim, bias=False)

    def attention(self, x: Tensor, mask: Tensor) -> Tensor:
        """Weights (B, H, T): softmax of scaled cosine scores, exactly 0 on padding."""
        keys = F.normalize(rearrange(self.to_k(x), "b t (h d) -> b t h d", h=self.heads), dim=-1)
        seed = F.normalize(self.seed, dim=-1)
        scores = self.scale * torch.einsum("bthd,hd->bht", keys, seed)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        return scores.softmax(dim=-1)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        weights = self.attention(x, mask)
        values = rearrange(x, "b t (h d) -> b t h d", h=self.heads)
        pooled = rearrange(torch.einsum("bht,bthd->bhd", weights, values), "b h d -> b (h d)")
        return pooled, weights[:, 0] if self.heads == 1 else weights
