"""Smooth-AP: average precision with sigmoid-approximated ranks.

Post: "Directly Optimize IR Metrics"
Paper: Brown, Xie, Kalogeiton, Zisserman, "Smooth-AP: Smoothing the Path Towards
Large-Scale Image Retrieval", ECCV 2020, arXiv:2007.12163 (eq. 6-7, temperature 0.01)

The post: Smooth AP as the AP counterpart of ApproxNDCG.

For a query with positives P among all candidates Ω:

    R(j, S) = 1 + sum_{k in S, k != j} sigmoid((s_k - s_j) / temperature)
    AP      ≈ 1/|P| sum_{j in P} R(j, P) / R(j, Ω)

In a batch every example is a query and the other examples its candidates; scores are
cosines of the pooled vectors. The loss is 1 - mean AP over queries with a positive.
Shape contract: outputs["pooled"] (B, D), target (B,) long -> scalar. No class head.
"""
from __future__ import annotations

import torch
from torch import Tensor

from zoo_core.interfaces import Loss

from ._common import in_batch_queries, zero_like_graph
from .approx_ndcg import approx_ranks


def smooth_ap(scores: Tensor, relevant: Tensor, temperature: float = 0.01, valid: Tensor | None = None) -> Tensor:
    """(Q, N) scores, (Q, N) bool relevant -> (Q,) smoothed AP (0 for a query without positives)."""
    valid = torch.ones_like(relevant) if valid is None else valid
    relevant = relevant & valid
    rank_all = approx_ranks(scores, valid, temperature)
    rank_pos = approx_ranks(scores, relevant, temperature)
    n_pos = relevant.sum(-1)
    ap = ((rank_pos / rank_all) * relevant).sum(-1) / n_pos.clamp_min(1)
    return torch.where(n_pos > 0, ap, torch.zeros_like(ap))


class SmoothAPLoss(Loss):
    needs_head = False

    def __init__(self, *, temperature: float = 0.01):
        super().__init__()
        self.temperature = temperature

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        queries = in_batch_queries(outputs["pooled"], target)
        if queries is None:
            return zero_like_graph(outputs["pooled"])
        scores, relevant, candidates = queries
        return 1.0 - smooth_ap(scores, relevant, self.temperature, candidates).mean()
