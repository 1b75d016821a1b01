"""Latent attention pooling (Perceiver-style): L learned latents cross-attend over the
tokens, each summarising its own aspect of the set; a fixed-size output for any length.

Posts: "Contextual Prototype Memory"; "Deep learning notes 04: Perceivers"
Paper: Jaegle et al., "Perceiver: General Perception with Iterative Attention", ICML 2021
(arXiv:2103.03206), the cross-attention block of section 2

"Contextual Prototype Memory": a set function summarising variable-length input, Y =
cross_attention(L, X), then flattened to L*dim or averaged as in the Perceiver; without
positional encoding f(x1, x2, x3) == f(x1, x3, x2). "Deep learning notes 04: Perceivers":
queries not computed from the input, keys and values from it, so the cost is L*T, not T^2.

    Z: (L, D) learned latents (truncated normal, std 0.02, as in the Perceiver)
    q = W_q LN(Z),  k = W_k LN(x),  v = W_v LN(x)            split into heads
    a = softmax_t(q . k / sqrt(d_head))  (scoring=dot)  or  softmax_t(scale * cos(q, k))  (scoring=cosine)
    Y = Z + W_o (a v)                                         residual on the latents
    Y = Y + MLP(LN(Y))                                        (mlp_ratio > 0)
    pooled = flatten(Y) (L*D)  or  mean_l Y (D)

Padding gets score -inf, so it has no effect; nothing depends on token order, so without a
positional encoding the output is invariant to permuting the tokens.
Shape contract: (B, T, D), mask (B, T) -> ((B, L*D) or (B, D), weights (B, L, T)): each
latent's attention over the tokens, averaged over heads (sums to 1 over real tokens).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.config import heads_divide_dim
from zoo_core.interfaces import Pooler


class LatentAttentionPooler(Pooler):
    def __init__(self, *, dim: int = 64, num_latents: int = 4, heads: int = 1,
                 reduce: Literal["flatten", "mean"] = "flatten", scoring: Literal["dot", "cosine"] = "dot",
                 scale: float = 10.0, mlp_ratio: int = 1):
        super().__init__()
        heads_divide_dim(dim, heads)
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.num_latents, self.reduce, self.scoring, self.scale = num_latents, reduce, scoring, scale
        self.latents = nn.Parameter(nn.init.trunc_normal_(torch.empty(num_latents, dim), std=0.02))
        self.norm_latents = nn.LayerNorm(dim)
        self.norm_tokens = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        hidden = mlp_ratio * dim
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, dim)) if hidden else None

    @property
    def out_dim(self) -> int:
        return self.num_latents * self.dim if self.reduce == "flatten" else self.dim

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        tokens = self.norm_tokens(x)
        q = rearrange(self.to_q(self.norm_latents(self.latents)), "l (h d) -> l h d", h=self.heads)
        k = rearrange(self.to_k(tokens), "b t (h d) -> b t h d", h=self.heads)
        v = rearrange(self.to_v(tokens), "b t (h d) -> b t h d", h=self.heads)
        if self.scoring == "cosine":
            scores = self.scale * torch.einsum("lhd,bthd->bhlt", F.normalize(q, dim=-1), F.normalize(k, dim=-1))
        else:
            scores = torch.einsum("lhd,bthd->bhlt", q, k) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        attn = scores.softmax(dim=-1)  # (B, H, L, T)
        y = rearrange(torch.einsum("bhlt,bthd->blhd", attn, v), "b l h d -> b l (h d)")
        y = self.latents + self.to_out(y)
        if self.mlp is not None:
            y = y + self.mlp(y)
        pooled = y.flatten(1) if self.reduce == "flatten" else y.mean(dim=1)
        return pooled, attn.mean(dim=1)
