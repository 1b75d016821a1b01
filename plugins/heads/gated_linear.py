"""Gated linear network head: geometric-mixing neurons whose weights a context of the input
selects, each neuron trained online by its own log loss (a local rule, not backpropagation).

Post: "Gated linear networks" (the notes: "set of weights per each neuron", "specific weight
vector selected via context func. from input (side information)", "usually set of
half-space functions", "each neuron is geometric mixture of outputs of previous layer",
"online gradient descent").
Paper: Veness, Lattimore, Budden, Bhoopchand, Mattern, Grabska-Barwinska, Sezener, Wang,
Toth, Schmitt, Hutter, "Gated Linear Networks" (arXiv:1910.01526, AAAI 2021); peer
implementation aiwabdn/pygln (numpy/torch).

Side information z: the pooled vector, standardised per example, s = (z - mean z) / std z.
Base layer: p_0 = clip(σ(a z)) (a = ``input_scale``, 1 by default) and a bias input of
constant probability σ(1). With
logit(p) = log(p / (1-p)) and clip to [eps, 1-eps], neuron j of layer l (one GLN per class,
one-vs-all; class c's target is y_c = [y = c]):

    c_j(z)  = Σ_b 2^b [v_{j,b} · s > t_{j,b}]           k = context_bits half-spaces, v unit, t ~ N(0,1)
    p_j     = clip(σ(w_{j, c_j(z)} · logit(p_{l-1})))     geometric mixing of the previous layer
    ℓ_j     = -log p_j if y_c = 1 else -log(1 - p_j)      the neuron's own loss
    w_{j,c} ← Π_[-clip, clip](w_{j,c} - lr (p_j - y_c) logit(p_{l-1}))   only the chosen c = c_j(z)

(∂ℓ_j/∂w = (p_j - y_c) logit(p_{l-1}); the previous layers' outputs are constants to it).
Each hidden layer also gets the bias input. The last layer has one neuron per class GLN and
the head's score for class c is logit(p_c). Weights start at 1/m (m inputs). A batch's
examples each take their step from the weights before the batch (summed updates: the same as
one example at a time when the batch has one example; a test checks the rule by hand).
Shape contract: (B, in_dim) -> (B, C). Context functions and weights are buffers, saved in
model.safetensors.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo_core.interfaces import Head

BIAS_LOGIT = 1.0


def _logit(p: Tensor) -> Tensor:
    return torch.log(p) - torch.log1p(-p)


class GatedLinearHead(Head):
    local_rule = True

    def __init__(self, in_dim: int, num_classes: int, layers: list[int] = (16, 8), context_bits: int = 4,
                 lr: float = 0.01, weight_clip: float = 200.0, eps: float = 0.01, input_scale: float = 1.0,
                 seed: int = 0, probe: bool = True):
        super().__init__()
        self.in_dim, self.num_classes = in_dim, num_classes
        self.sizes = [*layers, 1]
        self.context_bits, self.lr, self.weight_clip, self.eps = context_bits, lr, weight_clip, eps
        self.input_scale = input_scale
        gen = torch.Generator().manual_seed(seed)
        inputs = in_dim + 1
        for i, n in enumerate(self.sizes):
            normals = torch.randn(num_classes, n, context_bits, in_dim, generator=gen)
            self.register_buffer(f"normals{i}", normals / normals.norm(dim=-1, keepdim=True))
            self.register_buffer(f"offsets{i}", torch.randn(num_classes, n, context_bits, generator=gen))
            self.register_buffer(f"weights{i}", torch.full((num_classes, n, 2 ** context_bits, inputs), 1.0 / inputs))
            inputs = n + 1
        self.register_buffer("powers", 2 ** torch.arange(context_bits), persistent=False)
        self.probe = nn.Linear(in_dim, num_classes) if probe else None

    def contexts(self, z: Tensor, i: int) -> Tensor:
        """(B, in_dim) -> (B, C, n_i) the index of each neuron's chosen weight vector."""
        s = (z - z.mean(-1, keepdim=True)) / z.std(-1, keepdim=True).clamp_min(1e-6) if z.shape[-1] > 1 else z
        side = torch.einsum("bd,cnkd->bcnk", s, getattr(self, f"normals{i}")) > getattr(self, f"offsets{i}")
        return (side.long() * self.powers).sum(-1)

    def _with_bias(self, logits: Tensor) -> Tensor:
        return torch.cat([torch.full_like(logits[..., :1], BIAS_LOGIT), logits], -1)

    def _layers(self, pooled: Tensor):
        """Each layer's (inputs as logits (B, C, m), contexts (B, C, n), outputs p (B, C, n))."""
        z = pooled.float()
        x = self._with_bias(_logit(torch.sigmoid(self.input_scale * z).clamp(self.eps, 1 - self.eps)))
        x = x.unsqueeze(1).expand(-1, self.num_classes, -1)
        out = []
        for i in range(len(self.sizes)):
            ctx = self.contexts(z, i)
            w = getattr(self, f"weights{i}")  # (C, n, 2^k, m)
            chosen = w.unsqueeze(0).expand(len(z), -1, -1, -1, -1).gather(
                3, ctx[..., None, None].expand(-1, -1, -1, 1, w.shape[-1])).squeeze(3)  # (B, C, n, m)
            p = torch.sigmoid(torch.einsum("bcnm,bcm->bcn", chosen, x)).clamp(self.eps, 1 - self.eps)
            out.append((x, ctx, p))
            x = self._with_bias(_logit(p))
        return out

    def forward(self, pooled: Tensor) -> Tensor:
        return _logit(self._layers(pooled)[-1][2][..., 0])

    def update(self, pooled: Tensor, target: Tensor) -> None:
        y = (target.unsqueeze(1) == torch.arange(self.num_classes, device=target.device)).float()  # (B, C)
        for i, (x, ctx, p) in enumerate(self._layers(pooled)):
            w = getattr(self, f"weights{i}")
            grad = (p - y.unsqueeze(-1)).unsqueeze(-1) * x.unsqueeze(2)  # (B, C, n, m)
            classes = torch.arange(w.shape[0], device=w.device).view(1, -1, 1)
            neurons = torch.arange(w.shape[1], device=w.device).view(1, 1, -1)
            flat = ((classes * w.shape[1] + neurons) * w.shape[2] + ctx).reshape(-1)
            step = torch.zeros(w.shape[0] * w.shape[1] * w.shape[2], w.shape[3], device=w.device)
            step.index_add_(0, flat, grad.reshape(-1, w.shape[3]))
            w.sub_(self.lr * step.view_as(w)).clamp_(-self.weight_clip, self.weight_clip)
