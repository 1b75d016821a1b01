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


def in_batch_queries(pooled: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor] | None:
    """Every example with another of its label is a query: (scores (Q, B) cosines, relevant (Q, B),
    candidates (Q, B): all but the query itself), or None when no example has a positive."""
    scores = cosine_scores(pooled)
    same, not_self = pair_masks(target)
    has = same.any(1)
    if not has.any():
        return None
    return scores[has], same[has], not_self[has]


def zero_like_graph(x: Tensor) -> Tensor:
    """A 0 that keeps the graph (a batch with no usable pair contributes nothing)."""
    return x.sum() * 0.0
