"""Token shift with RWKV channel mixing: a mixer that looks exactly one token to the left.

Post: -
Paper: Peng et al., "RWKV: Reinventing RNNs for the Transformer Era", Findings of EMNLP 2023
(arXiv:2305.13048), the channel-mixing block (eqs. 17-19)

Each token is interpolated with its left neighbour by learned per-channel shares, then
passed through a squared-ReLU MLP gated by a sigmoid "receptance":

    x'_t = mask_t * x_t                 (padding contributes nothing; x'_0 = 0)
    k_t  = mu_k * x'_t + (1 - mu_k) * x'_(t-1)
    r_t  = mu_r * x'_t + (1 - mu_r) * x'_(t-1)
    out  = sigmoid(W_r r_t) * W_v relu(W_k k_t)^2

Stacked, n layers see n - 1 tokens back: cheap local context, linear in T, causal.

Shape contract: x (B, T, dim), mask (B, T) bool (True at real tokens) -> (B, T, dim).
Outputs at real tokens depend only on real tokens (any padding side).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer


class TokenShiftMixer(Mixer):
    """Built by zoo from ``TokenShiftConfig`` (``from_config``), or directly:
    ``TokenShiftMixer(dim=64, expand=4)``."""

    def __init__(self, *, dim: int = 64, expand: int = 2, mix_init: float = 0.5):
        super().__init__()
        self.dim = dim
        hidden = expand * dim
        self.mu_k = nn.Parameter(torch.full((dim,), mix_init))
        self.mu_r = nn.Parameter(torch.full((dim,), mix_init))
        self.key = nn.Linear(dim, hidden, bias=False)
        self.value = nn.Linear(hidden, dim, bias=False)
        self.receptance = nn.Linear(dim, dim, bias=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x * mask.unsqueeze(-1).to(x.dtype)
        prev = F.pad(x, (0, 0, 1, 0))[:, :-1]  # (B, T, D): x_(t-1), zeros at t = 0
        k = prev + self.mu_k * (x - prev)
        r = prev + self.mu_r * (x - prev)
        return torch.sigmoid(self.receptance(r)) * self.value(F.relu(self.key(k)).square())
