"""Masked max pooling: each dimension keeps its largest value over the real tokens.

Post: "Character-Based Neural Language Models" (max over time)
Paper: Collobert et al., "Natural Language Processing (Almost) from Scratch", JMLR 2011
(max over time of token features)

METHODS.md's pooler list has "max over time", the same operation as the max over characters
in the post.

    pooled[d] = max_{t real} x[t, d]
    weights[t] = |{d : token t holds the max of dimension d}| / D

The weights are not attention (pooled != weights @ x): they give the share of the pooled
dimensions each token supplied, so a decision can still be traced to tokens. They sum to 1
over real tokens and are 0 on padding.
Shape contract: (B, T, D), mask (B, T) -> ((B, D), weights (B, T)).
"""
from __future__ import annotations

import torch
from torch import Tensor

from zoo_core.interfaces import Pooler


class MaxPooler(Pooler):
    def __init__(self, *, dim: int = 64):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        masked = x.masked_fill(~mask.unsqueeze(-1), float("-inf"))
        pooled, winner = masked.max(dim=1)  # (B, D) values and the token that holds each
        weights = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        weights.scatter_add_(1, winner, torch.full_like(pooled, 1.0 / x.shape[-1]))
        return pooled, weights
