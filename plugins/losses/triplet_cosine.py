"""Triplet loss on cosine scores: an anchor must be closer to a positive than to a negative.

Post: "Who's Afraid of the Recurrent Wolf?"
Papers: Schroff, Kalenichenko, Philbin, "FaceNet", CVPR 2015 (the triplet loss); Hermans et
al., "In Defense of the Triplet Loss", arXiv:1703.07737 (batch-hard mining)

The post: words with the same stem close, others away (anchor / reference / negative,
cosine score, margin 0.3).

    loss(a, p, n) = max(0, margin - cos(a, p) + cos(a, n))

Triplets come from the batch: every (anchor, positive with the anchor's label, negative
with another label). ``mining=all`` averages over the triplets with a non-zero loss
(averaging over all would let the many easy ones dilute the gradient); ``mining=hardest``
takes, per anchor, the least similar positive and the most similar negative.
Shape contract: outputs["pooled"] (B, D), target (B,) long -> scalar. No class head.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from zoo_core.interfaces import Loss

from ._common import cosine_scores, pair_masks, zero_like_graph


def triplet_cosine_loss(x: Tensor, target: Tensor, margin: float = 0.3, mining: str = "all") -> Tensor:
    cos = cosine_scores(x)
    same, not_self = pair_masks(target)
    diff = not_self & ~same
    anchors = same.any(1) & diff.any(1)
    if not anchors.any():
        return zero_like_graph(x)
    if mining == "hardest":
        hardest_pos = cos.masked_fill(~same, 2.0).min(1).values
        hardest_neg = cos.masked_fill(~diff, -2.0).max(1).values
        return torch.relu(margin - hardest_pos + hardest_neg)[anchors].mean()
    # [a, p, n] = margin - cos(a, p) + cos(a, n)
    losses = torch.relu(margin - cos.unsqueeze(2) + cos.unsqueeze(1))
    valid = same.unsqueeze(2) & diff.unsqueeze(1)
    active = valid & (losses > 0)
    if not active.any():
        return zero_like_graph(x)
    return losses[active].mean()


class TripletCosineLoss(Loss):
    needs_head = False

    def __init__(self, *, margin: float = 0.3, mining: Literal["all", "hardest"] = "all"):
        super().__init__()
        self.margin, self.mining = margin, mining

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        return triplet_cosine_loss(outputs["pooled"], target, self.margin, self.mining)
