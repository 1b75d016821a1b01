"""Identity mixer: no token interaction at all, the baseline every mixer is compared with.

Post: "N Layers is All We Need?"
Paper: -

The post: the mixing layer is optional in the 4-layer network.
Shape contract: (B, T, D), mask -> (B, T, D), the input unchanged.
"""
from __future__ import annotations

from torch import Tensor

from zoo_core.interfaces import Mixer

class IdentityMixer(Mixer):
    def __init__(self, *, dim: int = 64):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return x
