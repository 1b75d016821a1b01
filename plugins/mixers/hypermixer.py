"""HyperMixer: a token-mixing MLP whose weights are generated from the tokens by hypernetworks.

Post: "Let's Make AI Green (Again)" (instead of MLP-Mixer's fixed (N, dim) weight, a
'hyper network' generates the matrix from the tokens, so any length works, in O(N)).
Paper: Mai et al., "HyperMixer: An MLP-based Low Cost Alternative to Transformers",
ACL 2023, arXiv:2203.03691, section 3 (eq. 2-3, "HyperMixing").

    P  = sinusoidal positions (optional)                 so the weights know token order,
                                                         counted from each sequence's first
                                                         real token (padding side changes nothing)
    W1 = h1(X + P),  W2 = h2(X + P)      (B, N, d')      h = Linear(D, D) -> GELU -> Linear(D, d')
                                                         (tied: W2 = W1)
    TM-MLP(X) = W2 · GELU(W1ᵀ · X)       (B, N, D)      rows of W1, W2 and X at padding are zeroed
    Y = LayerNorm(TM-MLP(X))                             (as in the authors' code)

Cost O(N d' D): linear in sequence length; no parameter depends on N, so a trained mixer
takes sequences of any length. Only the token-mixing half of a HyperMixer block is here:
the composed model adds the residual and its layer norm around every mixer.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from ._common import is_right_padded, no_padding, tracing
from .configs import HyperMixerConfig


def sinusoidal_positions(length: int, dim: int, device=None, dtype=None) -> Tensor:
    """(length, dim) sin/cos table of Vaswani et al., computed for any length."""
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return table.to(dtype or torch.get_default_dtype())


def _hypernetwork(dim: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim, bias=False), nn.GELU(), nn.Linear(dim, out, bias=False))


class HyperMixerMixer(Mixer):
    def __init__(self, dim: int, hidden: int | None = None, tied: bool = False, positions: bool = True):
        super().__init__()
        self.dim, self.tied, self.positions = dim, tied, positions
        self.hidden = hidden or dim
        self.h1 = _hypernetwork(dim, self.hidden)
        self.h2 = None if tied else _hypernetwork(dim, self.hidden)
        self.norm = nn.LayerNorm(dim)

    @classmethod
    def from_config(cls, cfg: HyperMixerConfig) -> "HyperMixerMixer":
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})

    def position_table(self, mask: Tensor, dtype) -> Tensor:
        """Sinusoids of each token's position among its sequence's real tokens: (T, D) for a
        right-padded batch, else (B, T, D) gathered at (number of real tokens before it)."""
        t = mask.shape[1]
        table = sinusoidal_positions(t, self.dim, mask.device, dtype)
        lengths = mask.sum(1)
        if not tracing() and is_right_padded(mask, lengths):  # a traced graph keeps the general path
            return table
        index = (mask.cumsum(1) - 1).clamp_min(0)  # 0 at the first real token
        return table[index]

    def generate(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """The token-mixing weights W1, W2 (B, N, d'), zero at padded rows."""
        hyper_in = x
        if self.positions:
            hyper_in = x + self.position_table(mask, x.dtype)
        w1 = self.h1(hyper_in)
        w2 = w1 if self.h2 is None else self.h2(hyper_in)
        if no_padding(mask):  # nothing to zero: skip two passes over (B, N, d') and their backward
            return w1, w2
        valid = mask.unsqueeze(-1).to(x.dtype)
        w1 = w1 * valid
        return w1, (w1 if self.h2 is None else w2 * valid)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        if not no_padding(mask):
            x = x * mask.unsqueeze(-1).to(x.dtype)
        w1, w2 = self.generate(x, mask)
        hidden = F.gelu(w1.transpose(1, 2) @ x)  # (B, d', D)
        return self.norm(w2 @ hidden)
