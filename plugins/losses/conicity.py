"""Conicity of token states: how closely they align with their mean (1 = one direction).

Post: "Avoid Collapsed Token Representations"
Paper: Mohankumar et al., "Towards Transparent and Explainable Attention Models", ACL 2020
(2020.acl-main.387), eq. 4-5


    ATM(h_i) = cos(h_i, mean_j h_j)          alignment to mean, over a sequence's real tokens
    conicity = mean_i ATM(h_i)

The loss is the batch mean of the per-sequence conicity (minimising it spreads the states);
``conicity(states, mask)`` is the metric itself, (B,) per sequence.
Shape contract: outputs["states"] (B, T, D), outputs["mask"] (B, T) -> scalar. No class head.
"""
from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Loss


def conicity(states: Tensor, mask: Tensor) -> Tensor:
    m = mask.unsqueeze(-1).to(states.dtype)
    n = mask.sum(1).clamp_min(1).to(states.dtype)
    mean = (states * m).sum(1) / n.unsqueeze(-1)
    atm = F.cosine_similarity(states, mean.unsqueeze(1).expand_as(states), dim=-1, eps=1e-8)
    return (atm * m.squeeze(-1)).sum(1) / n


class ConicityLoss(Loss):
    needs_head = False

    def __init__(self):
        super().__init__()

    def forward(self, outputs: dict[str, Tensor], target: Tensor | None = None) -> Tensor:
        return conicity(outputs["states"], outputs["mask"]).mean()
