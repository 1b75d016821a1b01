"""Prototypical loss: classify queries by their distance to class prototypes (episodic).

Post: "Contextual Prototype Memory"
Paper: Snell, Swersky, Zemel, "Prototypical Networks for Few-shot Learning", NeurIPS 2017

The post: prototypes from a handful of examples; a pooler such as ``mean`` or
``prototype_attention`` builds each example's vector.

A batch is an episode: for each class in it, its first ``shots`` examples (in batch order;
0: the first half, rounded up) are the support set and the rest are queries.

    c_k = mean of the support vectors of class k
    p(y = k | q) = softmax_k(-d(q, c_k)),   d = squared Euclidean (or -scale * cosine)
    loss = mean over queries of -log p(y = y_q | q)

Classes with a single example in the batch give a prototype but no query.
Shape contract: outputs["pooled"] (B, D), target (B,) long -> scalar. No class head.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Loss

from ._common import zero_like_graph


def support_query_split(target: Tensor, shots: int = 0) -> Tensor:
    """(B,) labels -> (B,) bool, True at support examples (per class, the first ``shots``)."""
    support = torch.zeros_like(target, dtype=torch.bool)
    for label in target.unique():
        idx = (target == label).nonzero().flatten()
        k = shots if shots > 0 else (len(idx) + 1) // 2
        support[idx[: min(k, len(idx))]] = True
    return support


def prototype_scores(query: Tensor, prototypes: Tensor, distance: str = "sqeuclidean", scale: float = 10.0) -> Tensor:
    if distance == "cosine":
        return scale * F.normalize(query, dim=-1) @ F.normalize(prototypes, dim=-1).t()
    return -torch.cdist(query, prototypes).pow(2)


class PrototypicalLoss(Loss):
    needs_head = False

    def __init__(self, *, shots: int = 0, distance: Literal["sqeuclidean", "cosine"] = "sqeuclidean",
                 scale: float = 10.0):
        super().__init__()
        self.shots, self.distance, self.scale = shots, distance, scale

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        x = outputs["pooled"]
        support = support_query_split(target, self.shots)
        classes, class_of = target.unique(return_inverse=True)
        onehot = F.one_hot(class_of[support], len(classes)).to(x.dtype)  # (S, C)
        prototypes = (onehot.t() @ x[support]) / onehot.sum(0).unsqueeze(1)
        query = ~support
        if not query.any():
            return zero_like_graph(x)
        logits = prototype_scores(x[query], prototypes, self.distance, self.scale)
        return F.cross_entropy(logits, class_of[query])
