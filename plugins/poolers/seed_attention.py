"""Seed attention pooling: a learned seed query attends over the tokens.

Posts: "The Fall of Attention?" (one learnable seed, one head: the tokens behind a decision
can be read off the weights), "Tales From The Attention World" (in shallow nets scaled dot
products give near-uniform weights: L2-normalise query and keys and multiply the cosine by
a constant; no dropout after the softmax; no value projection, so the output lives in the
tokens' own space), "LambdaNetworks: A Quick Glimpse" (the seed-based encoder).
Papers: Lee et al., "Set Transformer", ICML 2019 (pooling by multi-head attention with a
seed); Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    score_t = scale * cos(seed, W_k x_t)          (padding: -inf)
    a = softmax(score)                            weights, sum to 1 over real tokens
    pooled = Σ_t a_t x_t                          no value projection

With ``heads`` > 1 each head owns a dim/heads slice of the tokens and its own seed.
Shape contract: (B, T, D), mask (B, T) -> ((B, D), weights (B, T), or (B, H, T) for H > 1).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Pooler

from .configs import SeedAttentionConfig


class SeedAttentionPooler(Pooler):
    def __init__(self, cfg: SeedAttentionConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.h, self.d = cfg.heads, cfg.dim // cfg.heads
        self.seed = nn.Parameter(torch.randn(self.h, self.d))
        self.to_k = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def attention(self, x: Tensor, mask: Tensor) -> Tensor:
        """Weights (B, H, T): softmax of scaled cosine scores, exactly 0 on padding."""
        b, t, _ = x.shape
        keys = F.normalize(self.to_k(x).view(b, t, self.h, self.d), dim=-1)
        seed = F.normalize(self.seed, dim=-1)
        scores = self.cfg.scale * torch.einsum("bthd,hd->bht", keys, seed)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        return scores.softmax(dim=-1)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        b, t, _ = x.shape
        weights = self.attention(x, mask)
        values = x.view(b, t, self.h, self.d)
        pooled = torch.einsum("bht,bthd->bhd", weights, values).reshape(b, self.dim)
        return pooled, weights[:, 0] if self.h == 1 else weights
