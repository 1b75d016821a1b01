"""A weighted sum of losses: ``loss=cross_entropy+0.1*token_contrastive``.

Post: "Avoid Collapsed Token Representations" (a regulariser added to the task loss).
Paper: -

The grammar lives in combined_syntax.py (registered as this component's ``syntax``); each
term is a nested component the factory resolved and pinned (name, distribution, version,
validated config), so nothing but JSON is stored, and a term from a third-party
distribution is recorded in config.json and checked when the model loads.
Shape contract: whatever the terms read from outputs, target (B,) -> scalar
``sum_i weight_i * term_i(outputs, target)``; a class head exists when any term needs one.
"""
from __future__ import annotations

from torch import Tensor, nn

from zoo_core.factory import build
from zoo_core.interfaces import Loss


class CombinedLoss(Loss):
    def __init__(self, terms: list[tuple[float, nn.Module]]):
        super().__init__()
        self.weights = [w for w, _ in terms]
        self.terms = nn.ModuleList(term for _, term in terms)
        self.needs_head = any(getattr(t, "needs_head", True) for t in self.terms)
        self.uses_states = any(getattr(t, "uses_states", True) for t in self.terms)

    @classmethod
    def from_config(cls, cfg) -> "CombinedLoss":
        return cls([(term.weight, build(term.loss)) for term in cfg.terms])

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        return sum(w * term(outputs, target) for w, term in zip(self.weights, self.terms))
