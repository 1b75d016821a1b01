"""Centroid (associative-memory) head: one class hypervector per class, the most similar wins.

Post: "Hyperdimensional computing: wide embedding meets Hopfield" (printed "Hypersimensional"
in the notes): "aggregate per class to form hypervectors (e.g. consensus sum)", "class
hypervectors are stored in associative memory", "query closest class hypervector", and
"adaptive training (~iterative update on misclassification)".
Paper: Kleyko et al. / Neubert et al., "Symbolic Representation and Learning With
Hyperdimensional Computing" (arXiv:2004.11204); the retraining rule of Imani et al.,
"AdaptHD: Adaptive Efficient Training for Brain-Inspired Hyperdimensional Computing"
(BioCAS 2019), as torchhd's ``Centroid.add`` / ``add_adapt`` (a test compares against torchhd).

With x_i the pooled vectors and y_i their classes, at each epoch's end (``refit``, the
trainer's seam for heads that learn by their own rule):

    C_c = Σ_{i: y_i = c} x_i                                   bundling
    repeat retrain_epochs times, over batches of the training set in order:
        ŷ_i = argmax_c sim(x_i, C_c)
        for each misclassified i (ŷ_i ≠ y_i):  C_{y_i} += lr x_i,   C_{ŷ_i} -= lr x_i

and scores(x) = sim(x, C_c) for every c: cosine; ``hamming`` compares signs (x and the
consensus-summed C thresholded to ±1; score = share of agreeing components, 1 - Hamming/D);
``dot`` the plain inner product. With ``embed=hyperdimensional`` (frozen) and ``probe=false``
the classifier is gradient-free (``recipe=hdc``).
Shape contract: (B, in_dim) -> (B, C) similarities; the class hypervectors are a buffer
``classes`` (C, in_dim) saved in model.safetensors.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Head


def similarity(x: Tensor, classes: Tensor, kind: str) -> Tensor:
    """(B, D) x (C, D) -> (B, C)."""
    if kind == "cosine":
        return F.normalize(x, dim=-1) @ F.normalize(classes, dim=-1).T
    if kind == "hamming":
        agree = torch.sign(x) @ torch.sign(classes).T  # #agreeing - #disagreeing components
        return 0.5 * (1 + agree / x.shape[-1])
    return x @ classes.T


class CentroidHead(Head):
    local_rule = True

    def __init__(self, in_dim: int, num_classes: int, similarity: str = "cosine", retrain_epochs: int = 3,
                 lr: float = 1.0, batch_size: int = 256, probe: bool = True):
        super().__init__()
        self.in_dim, self.num_classes = in_dim, num_classes
        self.similarity, self.retrain_epochs, self.lr, self.batch_size = similarity, retrain_epochs, lr, batch_size
        self.register_buffer("classes", torch.zeros(num_classes, in_dim))
        self.probe = nn.Linear(in_dim, num_classes) if probe else None

    def forward(self, pooled: Tensor) -> Tensor:
        return similarity(pooled, self.classes.to(pooled.dtype), self.similarity)

    def refit(self, vectors: Tensor, target: Tensor) -> None:
        classes = torch.zeros_like(self.classes).index_add_(0, target, vectors.to(self.classes.dtype))
        for _ in range(self.retrain_epochs):
            for start in range(0, len(vectors), self.batch_size):
                self._retrain(classes, vectors[start:start + self.batch_size], target[start:start + self.batch_size])
        self.classes.copy_(classes)

    def _retrain(self, classes: Tensor, x: Tensor, y: Tensor) -> None:
        pred = similarity(x, classes, self.similarity).argmax(-1)
        wrong = pred != y
        if wrong.any():
            classes.index_add_(0, y[wrong], x[wrong], alpha=self.lr)
            classes.index_add_(0, pred[wrong], x[wrong], alpha=-self.lr)
