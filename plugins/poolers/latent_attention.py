"""Latent attention pooling (Perceiver-style): L learned latents cross-attend over the
tokens, each summarising its own aspect of the set; a fixed-size output for any length.

Post: "Contextual Prototype Memory" (a set function summarising variable-length input: Y =
cross_attention(L, X), then flattened to L*dim or averaged as in the Perceiver; without
positional encoding f(x1, x2, x3) == f(x1, x3, x2)); "Deep learning notes 04: Perceivers"
(queries not computed from the input, keys and values from it: cost L*T, not T^2).
Paper: Jaegle et al., "Perceiver: General Perception with Iterative Attention", ICML 2021
(arXiv:2103.03206), the cross-attention block of section 2.

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

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Pooler

from .configs import LatentAttentionConfig


class LatentAttentionPooler(Pooler):
    def __init__(self, cfg: LatentAttentionConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.h, self.d = cfg.heads, cfg.dim // cfg.heads
        self.latents = nn.Parameter(nn.init.trunc_normal_(torch.empty(cfg.num_latents, cfg.dim), std=0.02))
        self.norm_latents = nn.LayerNorm(cfg.dim)
        self.norm_tokens = nn.LayerNorm(cfg.dim)
        self.to_q = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.to_k = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.to_v = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.to_out = nn.Linear(cfg.dim, cfg.dim)
        hidden = cfg.mlp_ratio * cfg.dim
        self.mlp = nn.Sequential(nn.LayerNorm(cfg.dim), nn.Linear(cfg.dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, cfg.dim)) if hidden else None

    @property
    def out_dim(self) -> int:
        return self.cfg.num_latents * self.dim if self.cfg.reduce == "flatten" else self.dim

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        b, t, _ = x.shape
        tokens = self.norm_tokens(x)
        q = self.to_q(self.norm_latents(self.latents)).view(-1, self.h, self.d)  # (L, H, d)
        k = self.to_k(tokens).view(b, t, self.h, self.d)
        v = self.to_v(tokens).view(b, t, self.h, self.d)
        if self.cfg.scoring == "cosine":
            scores = self.cfg.scale * torch.einsum("lhd,bthd->bhlt", F.normalize(q, dim=-1), F.normalize(k, dim=-1))
        else:
            scores = torch.einsum("lhd,bthd->bhlt", q, k) / math.sqrt(self.d)
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        attn = scores.softmax(dim=-1)  # (B, H, L, T)
        y = torch.einsum("bhlt,bthd->blhd", attn, v).reshape(b, -1, self.dim)
        y = self.latents + self.to_out(y)
        if self.mlp is not None:
            y = y + self.mlp(y)
        pooled = y.flatten(1) if self.cfg.reduce == "flatten" else y.mean(dim=1)
        return pooled, attn.mean(dim=1)
