"""Mutual information between soft clusters of two views of a sample (no negatives).

Post: "Contrastive Learning By Maximizing Mutual Information" (two views of a sample as 'past'
and 'future'; no separate clustering step, only the softmax temperature kept from SwAV,
whose default is 0.1; the learned clusters label new data).
Paper: Stratos, "Mutual Information Maximization for Simple and Accurate Part-Of-Speech
Induction", NAACL 2019, section 2, and its official code (karlstratos/mmi-tagger,
model.py, class ``Loss``).

Views here: the masked mean of the token states of the first half of each sequence
("past", X) and of the second half ("future", Y); a one-token sequence gives both views the
same token. Each view goes through its own linear layer and a softmax over ``clusters`` at
``temperature``: q(z | x_b) = softmax(W_past x_b / τ), p(z | y_b) = softmax(W_future y_b / τ).

objective=variational (default; the paper's recommended bound, as in mmi-tagger):

    H(p, q) = -1/B sum_b sum_z p(z | y_b) log q(z | x_b)       cross entropy, an upper bound on H(Z|X)
    H(Z)    = -sum_z p̄(z) log p̄(z),   p̄ = 1/B sum_b p(· | y_b)
    loss    = H(p, q) - H(Z)                                   -loss <= I(X; Z), Z labelled by the future

objective=joint (the previous default; "generalised Brown" in the paper, which it calls
vulnerable: it can be maximised by degenerate, batch-dependent cluster pairings):

    P(z, z') = 1/B sum_b q(z | x_b) p(z' | y_b)                (K, K) joint over the batch
    loss     = -sum P(z, z') log( P(z, z') / (P(z) P(z')) )    (temperature=1 gives the old loss)

Labels are not used (the target is ignored): the loss is unsupervised. ``clusters(outputs)``
labels new data with the future view's most likely cluster (mmi-tagger predicts with the
future encoder); with objective=joint, with the past view's, as before.
Shape contract: outputs["states"] (B, T, D), outputs["mask"] (B, T) -> scalar. No class head.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo_core.interfaces import Loss


OBJECTIVES = ("variational", "joint")


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


def variational_mi_loss(past_logits: Tensor, future_logits: Tensor) -> Tensor:
    """mmi-tagger's ``Loss``: H(p(Z|future), q(Z|past)) - H(mean_b p(Z|future_b)), in nats."""
    p = future_logits.softmax(-1)  # (B, K): the clusters, labelled by the future view
    cross = -(p * past_logits.log_softmax(-1)).sum(-1).mean()
    marginal = p.mean(0)
    return cross - torch.special.entr(marginal).sum()  # entr(x) = -x log x, 0 at x = 0


class MutualInformationLoss(Loss):
    needs_head = False

    def __init__(self, dim: int, clusters: int = 16, objective: str = "variational", temperature: float = 0.1):
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective={objective!r}: use one of {', '.join(OBJECTIVES)}")
        if temperature <= 0:
            raise ValueError(f"temperature={temperature} must be > 0 (the post keeps SwAV's 0.1)")
        self.dim, self.n_clusters, self.objective, self.temperature = dim, clusters, objective, temperature
        self.past = nn.Linear(dim, clusters)
        self.future = nn.Linear(dim, clusters)


    def logits(self, outputs: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Cluster logits of the past and the future view, divided by the temperature: (B, K) each."""
        a, b = two_views(outputs["states"], outputs["mask"])
        return self.past(a) / self.temperature, self.future(b) / self.temperature

    def forward(self, outputs: dict[str, Tensor], target: Tensor | None = None) -> Tensor:
        past, future = self.logits(outputs)
        if self.objective == "joint":
            return -cluster_mutual_information(past.softmax(-1), future.softmax(-1))
        return variational_mi_loss(past, future)

    @torch.no_grad()
    def clusters(self, outputs: dict[str, Tensor]) -> Tensor:
        past, future = self.logits(outputs)
        return (past if self.objective == "joint" else future).argmax(-1)
