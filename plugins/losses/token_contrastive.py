"""Token-level contrastive regulariser: token states of a sequence keep a margin apart.

Post: "Avoid Collapsed Token Representations"
Paper: Su et al., "A Contrastive Framework for Neural Text Generation" (SimCTG), NeurIPS 2022,
arXiv:2202.06417

The post: ``dists = torch.pdist(states)**2; loss = torch.clamp(margin - dists, min=0).mean()``.
SimCTG's loss is mean max(0, rho - 1 + cos(h_i, h_j)); with ``normalize=true``
|h_i - h_j|² = 2 - 2 cos, so margin m here is SimCTG's rho = m / 2 up to the factor 2.

Per sequence, over the pairs i < j of real tokens (padding never enters):

    loss = mean over pairs of max(0, margin - |h_i - h_j|²)

Sequences with one token have no pair. Meant as an auxiliary term:
``loss=cross_entropy+0.1*token_contrastive``.
Shape contract: outputs["states"] (B, T, D), outputs["mask"] (B, T) -> scalar. No class head.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Loss

from ._common import zero_like_graph


def token_margin_loss(states: Tensor, mask: Tensor, margin: float = 1.0, normalize: bool = True) -> Tensor:
    h = F.normalize(states, dim=-1) if normalize else states
    d2 = torch.cdist(h, h).pow(2)  # (B, T, T)
    t = mask.shape[1]
    upper = torch.triu(torch.ones(t, t, dtype=torch.bool, device=mask.device), diagonal=1)
    pairs = mask.unsqueeze(1) & mask.unsqueeze(2) & upper
    if not pairs.any():
        return zero_like_graph(states)
    return torch.relu(margin - d2)[pairs].mean()


class TokenContrastiveLoss(Loss):
    needs_head = False

    def __init__(self, *, margin: float = 1.0, normalize: bool = True):
        super().__init__()
        self.margin, self.normalize = margin, normalize

    def forward(self, outputs: dict[str, Tensor], target: Tensor | None = None) -> Tensor:
        return token_margin_loss(outputs["states"], outputs["mask"], self.margin, self.normalize)
