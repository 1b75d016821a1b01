"""Prototype attention: a class centre conditioned on a query, instead of the plain average
of Prototypical Networks; it falls back to the average when no support item stands out.

Posts: "Tales From The Attention World"; "Contextual Prototype Memory"
Paper: Snell, Swersky, Zemel, "Prototypical Networks for Few-shot Learning", NeurIPS 2017
(the average this generalises)

"Tales From The Attention World": centre = softmax(W_q q . W_k S) @ S, one head, no value
projection so query and centre share the embedding space; the scaled dot product gave
near-uniform weights in a shallow net, so query and keys are L2-normalised and the cosine
multiplied by a constant; no dropout after the softmax. "Contextual Prototype Memory": the
few-shot setting.

Few-shot use, ``centres(query (Q, D), support (N, K, D) or (K, D)) -> (Q, N, D)``:

    a[q, n, k] = softmax_k(scale * cos(W_q query[q], W_k support[n, k]))
    centre[q, n] = sum_k a[q, n, k] support[n, k]

When every score of (q, n) is equal (no support item is closer to the query than another)
a is uniform and the centre is the ProtoNet average. W_q and W_k start as the identity, so
before training the weights are the plain cosine similarity in the embedding space.

Pooler mode (so the component also works in an ordinary model): the tokens of a sequence
are the support set and the query is a learned vector (``query=learned``) or the masked
mean of the tokens (``query=mean``: the centre of the sequence conditioned on itself, which
down-weights tokens unlike the rest). Padding gets score -inf.
Shape contract: (B, T, D), mask (B, T) -> ((B, D), weights (B, T)), pooled == weights @ x.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Pooler


class PrototypeAttentionPooler(Pooler):
    def __init__(self, *, dim: int = 64, scale: float = 10.0, query: Literal["learned", "mean"] = "learned"):
        super().__init__()
        self.dim, self.scale = dim, scale
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        nn.init.eye_(self.to_q.weight)
        nn.init.eye_(self.to_k.weight)
        self.query = nn.Parameter(torch.randn(dim)) if query == "learned" else None

    def centres(self, query: Tensor, support: Tensor, support_mask: Tensor | None = None,
                return_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Query-conditioned centres (Q, N, D) of N support sets of K items each;
        ``support_mask`` (N, K) marks real items of ragged sets. Weights: (Q, N, K)."""
        if support.dim() == 2:
            support = support.unsqueeze(0)
            support_mask = None if support_mask is None else support_mask.view(1, -1)
        q = F.normalize(self.to_q(query), dim=-1)
        s = F.normalize(self.to_k(support), dim=-1)
        scores = self.scale * torch.einsum("qd,nkd->qnk", q, s)
        if support_mask is not None:
            scores = scores.masked_fill(~support_mask.unsqueeze(0), float("-inf"))
        weights = scores.softmax(dim=-1)
        centres = torch.einsum("qnk,nkd->qnd", weights, support)
        return (centres, weights) if return_weights else centres

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        if self.query is not None:
            query = self.query.expand(x.shape[0], -1)
        else:
            keep = mask.unsqueeze(-1).to(x.dtype)
            query = (x * keep).sum(1) / keep.sum(1).clamp_min(1)
        q = F.normalize(self.to_q(query), dim=-1)  # (B, D)
        k = F.normalize(self.to_k(x), dim=-1)  # (B, T, D)
        scores = self.scale * torch.einsum("bd,btd->bt", q, k)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return torch.einsum("bt,btd->bd", weights, x), weights
