"""ApproxNDCG: NDCG made differentiable by a sigmoid approximation of each candidate's rank.

Post: "Directly Optimize IR Metrics" (rank ≈ 1 + sum of sigmoids of score differences, scale
1/0.05; DCG = sum rel / log2(1 + rank), divided by the ideal DCG).
Paper: Qin, Liu, Li, "A General Approximation Framework for Direct Optimization of
Information Retrieval Measures", Information Retrieval 13(4), 2010 (MSR-TR-2008-164).

For a query with candidate scores s_j and graded relevance rel_j:

    rank_j ≈ 1 + sum_{k != j} sigmoid((s_k - s_j) / temperature)
    NDCG   = sum_j G(rel_j) / log2(1 + rank_j)  /  IDCG,   IDCG = the same at the ideal ranking
    G(rel) = 2^rel - 1       (gain=exponential, default: the paper and allRank's approxNDCGLoss)
    G(rel) = rel             (gain=linear: the post, and trec_eval's ndcg)

The two gains agree for binary relevance (the in-batch use below); they differ for graded
relevance, where the exponential gain weighs the top grades more.
As temperature -> 0 each sigmoid becomes a step and rank_j the exact rank (no ties), so the
value converges to the exact NDCG. In a batch every example is a query and the other
examples are its candidates (relevance 1 for the same label); scores are cosines of the
pooled vectors. The loss is 1 - mean NDCG over queries with at least one relevant candidate.
Shape contract: outputs["pooled"] (B, D), target (B,) long -> scalar. No class head.
"""
from __future__ import annotations

import torch
from torch import Tensor

from zoo_core.interfaces import Loss

from ._common import in_batch_queries, zero_like_graph


def approx_ranks(scores: Tensor, valid: Tensor, temperature: float) -> Tensor:
    """(Q, N) scores, (Q, N) bool candidates -> (Q, N) approximate 1-based ranks among the valid."""
    diff = (scores.unsqueeze(1) - scores.unsqueeze(2)) / temperature  # [q, j, k] = (s_k - s_j) / t
    pairs = valid.unsqueeze(1) & valid.unsqueeze(2)
    pairs = pairs & ~torch.eye(scores.shape[1], dtype=torch.bool, device=scores.device)
    return 1.0 + (torch.sigmoid(diff) * pairs).sum(-1)


GAINS = ("exponential", "linear")


def gain_of(relevance: Tensor, gain: str) -> Tensor:
    if gain == "exponential":
        return torch.exp2(relevance) - 1.0
    if gain == "linear":
        return relevance
    raise ValueError(f"gain={gain!r}: use one of {', '.join(GAINS)}")


def approx_ndcg(scores: Tensor, relevance: Tensor, temperature: float = 0.05, valid: Tensor | None = None,
                gain: str = "exponential") -> Tensor:
    """(Q, N) scores and graded relevance (>= 0) -> (Q,) approximate NDCG (0 where IDCG is 0)."""
    valid = torch.ones_like(scores, dtype=torch.bool) if valid is None else valid
    rel = gain_of(relevance.to(scores.dtype), gain) * valid
    ranks = approx_ranks(scores, valid, temperature)
    dcg = (rel / torch.log2(1.0 + ranks)).sum(-1)
    ideal = rel.sort(-1, descending=True).values
    positions = torch.arange(2, scores.shape[1] + 2, device=scores.device, dtype=scores.dtype)
    idcg = (ideal / torch.log2(positions)).sum(-1)
    return torch.where(idcg > 0, dcg / idcg.clamp_min(1e-12), torch.zeros_like(dcg))


class ApproxNDCGLoss(Loss):
    needs_head = False

    def __init__(self, temperature: float = 0.05, gain: str = "exponential"):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature={temperature} must be > 0 (the post uses 0.05)")
        if gain not in GAINS:
            raise ValueError(f"gain={gain!r}: use one of {', '.join(GAINS)}")
        self.temperature, self.gain = temperature, gain


    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        queries = in_batch_queries(outputs["pooled"], target)
        if queries is None:
            return zero_like_graph(outputs["pooled"])
        scores, relevant, candidates = queries
        return 1.0 - approx_ndcg(scores, relevant.float(), self.temperature, candidates, self.gain).mean()
