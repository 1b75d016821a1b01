"""Shared pieces of the in-batch metric losses: every example is a query and the other
examples of the batch are its candidates; a candidate is relevant when it has the query's label."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def cosine_scores(x: Tensor) -> Tensor:
    """(B, D) -> (B, B) cosine similarities."""
    z = F.normalize(x, dim=-1)
    return z @ z.t()


def pair_masks(target: Tensor) -> tuple[Tensor, Tensor]:
    """(same label and not self, not self), both (B, B) bool."""
    not_self = ~torch.eye(len(target), dtype=torch.bool, device=target.device)
    same = (target.unsqueeze(0) == target.unsqueeze(1)) & not_self
    return same, not_self


def zero_like_graph(x: Tensor) -> Tensor:
    """A 0 that keeps the graph (a batch with no usable pair contributes nothing)."""
    return x.sum() * 0.0
