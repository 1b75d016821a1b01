"""Fastformer: additive attention with learned static queries, global aggregates, products.

Post: "Deep learning notes 08: Fastformer - additive or static (self)attention?"
Paper: Wu, Wu, Qi, Huang, Xie, "Fastformer: Additive Attention Can Be All You Need",
arXiv:2108.09084, section 3.2, eqs. (3)-(7)

The post: each "column" is pooled by a softmax against a learned static vector into one
global vector, which multiplies the next column element-wise; linear in length; good for
global tasks.

    q_i, k_i, v_i = W_q x_i, W_k x_i, W_v x_i            per head h (d = dim / heads)
    α_i = softmax_i(w_q · q_i / √d)      global query  q = Σ_i α_i q_i
    p_i = q ⊙ k_i
    β_i = softmax_i(w_k · p_i / √d)      global key    k = Σ_i β_i p_i
    u_i = k ⊙ v_i
    y_i = W_o u_i + q_i                  (the paper adds the query to the output)

As in the authors' code, each head's score w · (·) reads the whole dim-wide vector
(a Linear(dim, heads)). Softmaxes run over real tokens only. Cost O(T dim): linear.
No causal form (the global vectors see the whole sequence).

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor, nn

from zoo_core.config import heads_divide_dim
from zoo_core.interfaces import Mixer

from ._common import no_padding


class FastformerMixer(Mixer):
    def __init__(self, *, dim: int = 64, heads: int = 4):
        super().__init__()
        heads_divide_dim(dim, heads)
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.query_score = nn.Linear(dim, heads)  # w_q of every head
        self.key_score = nn.Linear(dim, heads)  # w_k of every head
        self.out = nn.Linear(dim, dim)

    def pool(self, x: Tensor, scorer: nn.Linear, pad: Tensor | None) -> Tensor:
        """Σ_i softmax_i(w · x_i / √d) x_i per head: (B, T, dim) -> (B, 1, dim)."""
        scores = scorer(x) / math.sqrt(self.head_dim)
        if pad is not None:
            scores = scores.masked_fill(pad, float("-inf"))
        weights = scores.softmax(dim=1)
        heads = rearrange(x, "b t (h d) -> b t h d", h=self.heads)  # a view: no copy of x
        pooled = torch.einsum("bth,bthd->bhd", weights, heads)  # Σ_t α_t x_t per head
        return rearrange(pooled, "b h d -> b 1 (h d)")

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        pad = None if no_padding(mask) else ~mask.unsqueeze(-1)
        global_q = self.pool(q, self.query_score, pad)
        p = global_q * k
        global_k = self.pool(p, self.key_score, pad)
        return self.out(global_k * v) + q
