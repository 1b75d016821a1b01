"""The linear output layer: logits = W x + b over the pooled vector (the default head).

Post: "N Layers is All We Need?" (the canonical network: embedding, mixing, pooling, output layer)
Paper: Joulin, Grave, Bojanowski, Mikolov, "Bag of Tricks for Efficient Text Classification"
(EACL 2017): averaged embeddings classified by one linear layer.

Its parameters are ``weight`` (C, in_dim) and ``bias`` (C,): a model saved before heads were a
component kind stored exactly these as ``head.weight``/``head.bias``, so it loads unchanged.
Shape contract: (B, in_dim) -> (B, C).
"""
from __future__ import annotations

from torch import nn

from zoo_core.interfaces import Head


class LinearHead(nn.Linear, Head):
    def __init__(self, in_dim: int, num_classes: int, bias: bool = True):
        nn.Linear.__init__(self, in_dim, num_classes, bias=bias)
        self.in_dim, self.num_classes = in_dim, num_classes
