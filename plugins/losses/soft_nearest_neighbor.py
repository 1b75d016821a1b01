"""Soft nearest neighbour loss: a sample should be closer to its own class than to the rest.

Post: "Implementing Loss Functions"
Paper: Frosst, Papernot, Hinton, "Analyzing and Improving Representations with the Soft
Nearest Neighbor Loss", ICML 2019, arXiv:1902.01889

The post writes the naive per-sample loop (note its loop overwrites ``loss`` instead of
accumulating it).

    loss_i = -log( sum_{j != i, y_j = y_i} exp(-|x_i - x_j|² / T) / sum_{k != i} exp(-|x_i - x_k|² / T) )

Vectorised over the batch with log-sum-exp (no underflow when distances are large). A sample
without another sample of its label has no defined loss_i and is left out of the mean.
Shape contract: outputs["pooled"] (B, D), target (B,) long -> scalar. No class head.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Loss

from ._common import pair_masks, zero_like_graph


def soft_nearest_neighbor_loss(x: Tensor, target: Tensor, temperature: float = 1.0) -> Tensor:
    logits = -torch.cdist(x, x).pow(2) / temperature
    same, not_self = pair_masks(target)
    neg_inf = torch.finfo(logits.dtype).min
    log_same = logits.masked_fill(~same, neg_inf).logsumexp(1)
    log_all = logits.masked_fill(~not_self, neg_inf).logsumexp(1)
    has_pair = same.any(1)
    if not has_pair.any():
        return zero_like_graph(x)
    return (log_all - log_same)[has_pair].mean()


class SoftNearestNeighborLoss(Loss):
    needs_head = False

    def __init__(self, *, temperature: float = 1.0, normalize: bool = False):
        super().__init__()
        self.temperature, self.normalize = temperature, normalize

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        x = outputs["pooled"]
        if self.normalize:
            x = F.normalize(x, dim=-1)
        return soft_nearest_neighbor_loss(x, target, self.temperature)
