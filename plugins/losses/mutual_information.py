"""Mutual information between soft clusters of two views of a sample (no negatives).

Post: "Contrastive Learning By Maximizing Mutual Information". Paper: Stratos, "Mutual
Information Maximization for Simple and Accurate Part-Of-Speech Induction", NAACL 2019
(a "past" and a "future" view of a sample each predict a cluster; the mutual information of
the two cluster variables is maximised over the batch).

Views here: the masked mean of the token states of the first half of each sequence
("past") and of the second half ("future"); a one-token sequence gives both views the same
token. Each view goes through its own linear layer and a softmax over ``clusters``:

    P(z, z') = 1/B sum_b p(z | past_b) q(z' | future_b)       (K, K) joint over the batch
    I = sum P(z, z') log( P(z, z') / (P(z) P(z')) )
    loss = -I

Labels are not used (the target is ignored): the loss is unsupervised, and ``clusters(outputs)``
labels new data with the past view's most likely cluster.
Shape contract: outputs["states"] (B, T, D), outputs["mask"] (B, T) -> scalar. No class head.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo_core.interfaces import Loss

from .configs import MutualInformationConfig


def two_views(states: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Masked means of the first and the second half of each sequence's real tokens."""
    lengths = mask.sum(1, keepdim=True)
    pos = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0)
    half = (lengths + 1) // 2
    past = mask & (pos < half)
    future = mask & ((pos >= half) | (lengths == 1))
    mean = lambda m: (states * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp_min(1)
    return mean(past), mean(future)


def cluster_mutual_information(p: Tensor, q: Tensor, eps: float = 1e-10) -> Tensor:
    """(B, K) and (B, K') cluster distributions -> I(Z; Z') of their batch joint, in nats."""
    joint = p.t() @ q / p.shape[0]
    marg = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)
    return (joint * ((joint + eps).log() - (marg + eps).log())).sum()


class MutualInformationLoss(Loss):
    needs_head = False

    def __init__(self, cfg: MutualInformationConfig):
        super().__init__()
        self.cfg = cfg
        self.past = nn.Linear(cfg.dim, cfg.clusters)
        self.future = nn.Linear(cfg.dim, cfg.clusters)

    def forward(self, outputs: dict[str, Tensor], target: Tensor | None = None) -> Tensor:
        a, b = two_views(outputs["states"], outputs["mask"])
        return -cluster_mutual_information(self.past(a).softmax(-1), self.future(b).softmax(-1))

    @torch.no_grad()
    def clusters(self, outputs: dict[str, Tensor]) -> Tensor:
        a, _ = two_views(outputs["states"], outputs["mask"])
        return self.past(a).argmax(-1)
