"""MLP-Mixer token mixing: an MLP across the token axis, shared by all channels.

Posts: "N Layers is All We Need?" and "The Fall of Attention?" (plain MLPs with spatial
mixing instead of attention); "Let's Make AI Green (Again)" (its fixed-size input is the
problem for NLP that HyperMixer removes).
Paper: Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision", NeurIPS 2021,
arXiv:2105.01601, section 2, eq. (1), token-mixing part.

    U = LayerNorm(X)                                     (B, n, D)
    Y[:, :, c] = W2 · GELU(W1 · U[:, :, c] + b1) + b2    per channel c; W1 (D_S, max_len),
                                                         W2 (max_len, D_S)

A batch of T <= max_len tokens uses the first T columns of W1 and rows of W2, b2; longer
inputs raise an error naming the fix. The weights are tied to positions counted from each
sequence's first real token: a left-padded (or holed) batch has its real tokens moved to the
front first and the outputs moved back after (right padding needs no copy), so the padding
side never changes a real output. Padded tokens are zeroed before W1, so they never reach a
real output. The residual (and the channel-mixing MLP of a full Mixer block) is
left to the composed model's ``x = norm(x + dropout(mixer(x)))``.
Cost O(T D_S D): linear in T for a fixed D_S, but the weights are tied to positions,
so a model never sees a sequence longer than max_len.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from ._common import check_max_len, compact, restore, token_matmul
from .configs import MLPMixerConfig


class MLPMixerMixer(Mixer):
    def __init__(self, dim: int, max_len: int = 512, hidden: int = 256):
        super().__init__()
        self.dim, self.max_len, self.hidden = dim, max_len, hidden
        self.norm = nn.LayerNorm(dim)
        # nn.Linear's default init, stored as plain matrices so that they can be sliced to T
        self.w1 = nn.Parameter(torch.empty(hidden, max_len).uniform_(-1, 1) / math.sqrt(max_len))
        self.b1 = nn.Parameter(torch.empty(hidden).uniform_(-1, 1) / math.sqrt(max_len))
        self.w2 = nn.Parameter(torch.empty(max_len, hidden).uniform_(-1, 1) / math.sqrt(hidden))
        self.b2 = nn.Parameter(torch.empty(max_len).uniform_(-1, 1) / math.sqrt(hidden))

    @classmethod
    def from_config(cls, cfg: MLPMixerConfig) -> "MLPMixerMixer":
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        t = x.shape[1]
        check_max_len("mlp_mixer", t, self.max_len)
        x, lengths, order = compact(x, mask)  # W1, W2 index positions from each sequence's first real token
        if order is not None:
            mask = torch.arange(t, device=mask.device) < lengths.unsqueeze(1)
        u = self.norm(x) * mask.unsqueeze(-1).to(x.dtype)  # (B, T, D)
        hidden = F.gelu(token_matmul(self.w1[:, :t], u) + self.b1[:, None])  # (B, D_S, D)
        return restore(token_matmul(self.w2[:t], hidden) + self.b2[:t, None], order)
