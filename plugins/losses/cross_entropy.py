"""Cross-entropy over the output head's class logits.

Posts: "LambdaNetworks: A Quick Glimpse"; "[MASK] is All You Need"
Paper: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
CVPR 2016 (label smoothing)

"LambdaNetworks: A Quick Glimpse": the classifier's loss. "[MASK] is All You Need": a fresh
classifier must start near -log(1/C); the composed model's small head init gives it.
Shape contract: outputs["logits"] (B, C), target (B,) long -> scalar.
"""
from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Loss


class CrossEntropyLoss(Loss):
    needs_head = True
    uses_states = False  # reads the logits only: a bag model may skip per-token states

    def __init__(self, *, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        return F.cross_entropy(outputs["logits"], target, label_smoothing=self.label_smoothing)
