"""Cross-entropy over the output head's class logits.

Posts: "LambdaNetworks: A Quick Glimpse" (the classifier's loss), "[MASK] is All You Need"
(a fresh classifier must start near -log(1/C); the composed model's small head init gives it).
Paper: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
CVPR 2016 (label smoothing).
Shape contract: outputs["logits"] (B, C), target (B,) long -> scalar.
"""
from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Loss

from .configs import CrossEntropyConfig


class CrossEntropyLoss(Loss):
    needs_head = True

    def __init__(self, cfg: CrossEntropyConfig):
        super().__init__()
        self.cfg = cfg

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        return F.cross_entropy(outputs["logits"], target, label_smoothing=self.cfg.label_smoothing)
