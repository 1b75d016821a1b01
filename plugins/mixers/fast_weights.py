"""Fast weights: a recurrent layer whose new state settles under a decaying Hebbian memory of
its own recent states.

Post: "Fast weights: attend to the recent past" (h_0(t+1) = f(W h(t) + C x(t)), S inner
steps h_{s+1}(t+1) = f([W h(t) + C x(t)] + A(t) h_s(t+1)), fast weights A updated with a
Hopfield rule and heavy decay, layer normalisation needed; the minibatch form is attention
over the past hidden states).
Paper: Ba, Hinton, Mnih, Leibo, Ionescu, "Using Fast Weights to Attend to the Recent Past",
NeurIPS 2016 (arXiv:1610.06258), section 3 and 3.1.

For each sequence, over its real tokens t = 1..n (h(0) = 0, A(0) = 0):

    A(t)        = λ A(t-1) + η h(t) h(t)ᵀ                      (fast weights; never materialised)
    z           = W h(t) + C x(t+1)                            the "sustained boundary condition"
    h_0(t+1)    = f(z)
    h_{s+1}(t+1) = f(LN(z + A(t) h_s(t+1)))                    s = 0..S-1; h(t+1) = h_S(t+1)
    A(t) h      = η Σ_{τ=1..t} λ^(t-τ) h(τ) <h(τ), h>          (the paper's minibatch form, eq. 3)

The last line is how it is computed: attention with weights η λ^(t-τ) <h(τ), h> over the
stored past states, so no (B, dim, dim) matrix exists per step. A(t) holds the states up to
and including h(t), the one just before the new state. Defaults are the paper's: λ = 0.95,
η = 0.5, S = 1, f = ReLU; W starts at 0.05·I (a scaled identity, the usual start of ReLU
RNNs; our choice), C and its bias at PyTorch's default.

Causal by construction (state t reads inputs <= t only). Sequential: T steps of S inner
steps; step t attends to t-1 past states, so a sequence costs O(T² dim + T S dim²) time and
the stored past states O(T² dim) memory for the backward pass. Padding: the real tokens of each
sequence are moved to the front (left or right padding alike), run, and put back; padded
positions output 0.
Shape contract: (B, T, dim), mask (B, T) bool -> (B, T, dim) (h(t) at real positions, 0 at padding).
"""
from __future__ import annotations

import torch
from einops import einsum
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from ._common import compact, restore
from .configs import FastWeightsConfig


class FastWeightsMixer(Mixer):
    causal = True

    def __init__(self, *, dim: int = 64, decay: float = 0.95, rate: float = 0.5, inner_steps: int = 1,
                 activation: str = "relu"):
        super().__init__()
        self.dim, self.decay, self.rate, self.inner_steps, self.activation = dim, decay, rate, inner_steps, activation
        self.input = nn.Linear(dim, dim)  # C x + b
        self.recurrent = nn.Linear(dim, dim, bias=False)  # W h
        with torch.no_grad():
            self.recurrent.weight.copy_(0.05 * torch.eye(dim))
        self.norm = nn.LayerNorm(dim)
        self.f = F.relu if activation == "relu" else torch.tanh

    @classmethod
    def from_config(cls, cfg: FastWeightsConfig) -> "FastWeightsMixer":
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})

    def coefficients(self, t: int, like: Tensor) -> Tensor:
        """η λ^(t-τ) for the past states τ = 1..t (index τ-1), when computing h(t+1)."""
        exponents = torch.arange(t - 1, -1, -1, device=like.device, dtype=like.dtype)
        return self.rate * self.decay ** exponents

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        xc, _, order = compact(x, mask)
        b, t, d = xc.shape
        boundary_in = self.input(xc)  # C x(t) + b for every t at once
        h = xc.new_zeros(b, d)
        past: list[Tensor] = []
        outs = []
        for i in range(t):
            z = boundary_in[:, i] + self.recurrent(h)
            hs = self.f(z)
            if past:
                states = torch.stack(past, 1)  # h(1..t): (B, t, dim)
                coef = self.coefficients(len(past), xc)
            for _ in range(self.inner_steps):
                if past:
                    scores = einsum(states, hs, "b tau d, b d -> b tau") * coef
                    z_s = z + einsum(scores, states, "b tau, b tau d -> b d")
                else:
                    z_s = z  # A(0) = 0
                hs = self.f(self.norm(z_s))
            h = hs
            past.append(h)
            outs.append(h)
        y = restore(torch.stack(outs, 1), order)
        return y * mask.unsqueeze(-1).to(y.dtype)
