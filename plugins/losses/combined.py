"""A weighted sum of losses: ``loss=cross_entropy+0.1*token_contrastive``.

The command-line grammar and its resolution live in zoo_core/losses_combined.py; this is the
module the resolved spec builds. Each term is instantiated from its own resolved spec (name,
distribution, validated config), so nothing but JSON is stored.
Shape contract: whatever the terms read from outputs, target (B,) -> scalar
``sum_i weight_i * term_i(outputs, target)``; a class head exists when any term needs one.
"""
from __future__ import annotations

from torch import Tensor, nn

from zoo_core.interfaces import Loss

from .configs import CombinedConfig


class CombinedLoss(Loss):
    def __init__(self, cfg: CombinedConfig):
        super().__init__()
        from zoo_core.compose import instantiate
        from zoo_core.spec import ComponentSpec

        self.cfg = cfg
        self.weights = [t.weight for t in cfg.terms]
        self.names = [t.name for t in cfg.terms]
        self.terms = nn.ModuleList(
            instantiate(ComponentSpec(kind="loss", name=t.name, dist=t.dist, version=t.version, config=t.config))
            for t in cfg.terms)
        self.needs_head = any(getattr(t, "needs_head", True) for t in self.terms)

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        return sum(w * term(outputs, target) for w, term in zip(self.weights, self.terms))

    def parts(self, outputs: dict[str, Tensor], target: Tensor) -> dict[str, float]:
        """Each term's unweighted value, for logging."""
        return {name: float(term(outputs, target)) for name, term in zip(self.names, self.terms)}
