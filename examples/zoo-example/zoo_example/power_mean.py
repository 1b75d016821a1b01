"""Concatenated power means: several generalised means of the token vectors, side by side.

Post: -
Paper: Rücklé, Eger, Peyrard, Gurevych, "Concatenated Power Mean Word Embeddings as Universal
Cross-Lingual Sentence Representations" (arXiv:1803.01400)

The arithmetic mean keeps only one summary statistic; concatenating power means keeps several (the max and min capture the
extremes the mean averages away):

    M_p(x_1..x_n) = ((x_1^p + ... + x_n^p) / n)^(1/p)       per channel, real tokens only
    M_+inf = max,   M_-inf = min,   pooled = [M_p1 ; M_p2 ; ...]

For real-valued (not only positive) inputs an odd p keeps the sign: the root is taken as
sign(m) |m|^(1/p). No parameters.

Shape contract: x (B, T, dim), mask (B, T) bool -> (pooled (B, dim * len(powers)), None).
Padded positions never change the result.
"""
from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import Tensor

from zoo_core.interfaces import Pooler


class PowerMeanPooler(Pooler):
    def __init__(self, *, dim: int = 64, powers: Sequence[Literal["max", "min"] | int] = (1, "max", "min"),
                 eps: float = 1e-6):
        super().__init__()
        self.dim, self.powers, self.eps = dim, list(powers), eps

    @property
    def out_dim(self) -> int:
        return self.dim * len(self.powers)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, None]:
        real = mask.unsqueeze(-1)
        count = real.sum(1).clamp_min(1).to(x.dtype)
        means = []
        for p in self.powers:
            if p == "max":
                means.append(x.masked_fill(~real, float("-inf")).amax(1))
            elif p == "min":
                means.append(x.masked_fill(~real, float("inf")).amin(1))
            else:
                m = x.masked_fill(~real, 0.0).pow(p).sum(1) / count
                means.append(m if p == 1 else torch.sign(m) * (m.abs() + self.eps).pow(1.0 / p))
        return torch.cat(means, dim=-1), None
