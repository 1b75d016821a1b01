"""Masked mean pooling: the prototype of Prototypical Networks is the average.

Post: "Contextual Prototype Memory"
Paper: Snell, Swersky, Zemel, "Prototypical Networks for Few-shot Learning", NeurIPS 2017

Shape contract: (B, T, D), mask (B, T) -> ((B, D), weights (B, T) = 1/len on real tokens).
"""
from __future__ import annotations

from torch import Tensor

from zoo_core.interfaces import Pooler


class MeanPooler(Pooler):
    bag_pooling = "mean"  # a bag model (no mixer) may compute it as one EmbeddingBag (zoo_core.bag)

    def __init__(self, *, dim: int = 64):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        weights = mask.to(x.dtype)
        weights = weights / weights.sum(1, keepdim=True).clamp_min(1)
        return (weights.unsqueeze(-1) * x).sum(1), weights
