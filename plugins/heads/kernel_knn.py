"""Kernel machine / weighted k-nearest-neighbour head over stored training vectors.

Post: "Deep learning notes 11: All is Kernels - but not those in ring0" ("Kernel machine:
y = g(sum_i a_i K(x, x_i) + b)", "xi: remembered training set", "ai: gold labels",
"Kernel methods ~ soft nearest neighbor"); the labelled-neighbour classifier that "Deep
learning notes 05: Unsupervised vision with DINO" evaluates with ("output KNN to known
labeled examples").
Paper: Domingos, "Every Model Learned by Gradient Descent Is Approximately a Kernel Machine"
(arXiv:2012.00152); the weighted kNN of Wu et al. (CVPR 2018) as used by Caron et al., DINO
(arXiv:2104.14294, T = 0.07).

Stored: x_1..x_n, the pooled vectors of the training set (rebuilt at each epoch's end by
``refit``, the trainer's seam, so they match the features as they are; a seeded random
subset of ``memory`` when there are more), and their labels y_i. For a query x:

    K(x, x_i) = exp(cos(x, x_i) / T)          kernel=cosine
    K(x, x_i) = exp(-gamma |x - x_i|^2)       kernel=rbf
    s_c(x)    = Σ_{i in N_k(x)} K(x, x_i) [y_i = c]        (a_i = onehot(y_i); k=0: every i)
    scores    = log(s_c / Σ_c' s_c')                       (log-probabilities)

N_k(x): the k stored vectors with the largest kernel value. Shape contract: (B, in_dim) ->
(B, C). Buffers ``keys`` (memory, in_dim), ``values`` (memory,), ``count``, ``gamma_`` are
saved in model.safetensors (fixed shapes, so a saved model loads strictly).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Head


class KernelKNNHead(Head):
    local_rule = True

    def __init__(self, in_dim: int, num_classes: int, kernel: str = "cosine", k: int = 20,
                 temperature: float = 0.07, gamma: float | None = None, memory: int = 16384, probe: bool = True):
        super().__init__()
        self.in_dim, self.num_classes = in_dim, num_classes
        self.kernel, self.k, self.temperature, self.gamma, self.memory = kernel, k, temperature, gamma, memory
        self.register_buffer("keys", torch.zeros(memory, in_dim))
        self.register_buffer("values", torch.zeros(memory, dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.register_buffer("gamma_", torch.tensor(gamma or 1.0))
        self.probe = nn.Linear(in_dim, num_classes) if probe else None

    def kernel_values(self, x: Tensor, keys: Tensor) -> Tensor:
        """(B, D) x (n, D) -> (B, n) K(x, x_i)."""
        if self.kernel == "cosine":
            return torch.exp(F.normalize(x, dim=-1) @ F.normalize(keys, dim=-1).T / self.temperature)
        return torch.exp(-self.gamma_ * torch.cdist(x, keys).pow(2))

    def forward(self, pooled: Tensor) -> Tensor:
        n = int(self.count)
        if n == 0:  # nothing stored yet (before the first epoch's end): uniform
            return torch.full((len(pooled), self.num_classes), -float(torch.log(torch.tensor(self.num_classes))),
                              device=pooled.device)
        kv = self.kernel_values(pooled.float(), self.keys[:n])
        labels = self.values[:n].expand(len(pooled), n)
        if 0 < self.k < n:
            kv, idx = kv.topk(self.k, dim=-1)
            labels = labels.gather(1, idx)
        scores = torch.zeros(len(pooled), self.num_classes, device=pooled.device).scatter_add_(1, labels, kv)
        return torch.log(scores / scores.sum(-1, keepdim=True).clamp_min(1e-30) + 1e-12)

    def refit(self, vectors: Tensor, target: Tensor) -> None:
        if len(vectors) > self.memory:
            keep = torch.randperm(len(vectors), generator=torch.Generator().manual_seed(0))[:self.memory]
            vectors, target = vectors[keep.to(vectors.device)], target[keep.to(target.device)]
        n = len(vectors)
        self.keys.zero_()[:n] = vectors.to(self.keys.dtype)
        self.values.zero_()[:n] = target
        self.count.fill_(n)
        if self.gamma is None:  # sklearn's gamma='scale'
            self.gamma_.fill_(1.0 / (self.in_dim * float(vectors.float().var()) + 1e-12))
