"""Last-token pooling: the state of the last real token of each sequence (what an RNN
encoder's final state is), whatever the padding.

Post: "Who's Afraid of the Recurrent Wolf?"
Paper: Sutskever, Vinyals, Le, "Sequence to Sequence Learning with Neural Networks",
NeurIPS 2014 (the final state as the sequence's summary)

In METHODS.md's pooler list; the post retrieves "the last state from each item by using the
unpadded length".

    t* = the largest t with mask[t] = True
    pooled = x[t*],  weights = one_hot(t*)

The position comes from the mask, not from the length, so any padding layout works.
Shape contract: (B, T, D), mask (B, T) -> ((B, D), weights (B, T)), and pooled == weights @ x.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Pooler


class LastPooler(Pooler):
    def __init__(self, *, dim: int = 64):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        positions = torch.arange(1, mask.shape[1] + 1, device=mask.device)
        last = (mask * positions).argmax(dim=1)  # index of the last True
        pooled = x[torch.arange(x.shape[0], device=x.device), last]
        return pooled, F.one_hot(last, mask.shape[1]).to(x.dtype)
