"""gMLP block: channel MLP with a spatial gating unit (SGU) over a fixed maximum length.

Post: "N Layers is All We Need?" (quotes the paper's pseudo-code: norm -> gelu(proj up) ->
spatial gating unit -> proj down -> + shortcut, and asks which parts a small task needs).
Paper: Liu, Dai, So, Le, "Pay Attention to MLPs", NeurIPS 2021, arXiv:2105.08050,
section 2 (eq. 1-6, Fig. 1 pseudo-code).

    Z  = GELU(LayerNorm(X) U)                (B, n, d_ffn)
    Z1, Z2 = split(Z)                        two (B, n, d_ffn/2) halves
    s(Z) = Z1 ⊙ (W · LayerNorm(Z2) + b)      W (n, n) spatial projection, init W ≈ 0, b = 1
    Y  = s(Z) V                              (B, n, dim)

W and b are sized for ``max_len`` tokens; a batch of T <= max_len uses W[:T, :T], b[:T]
(longer inputs raise an error naming the fix). W is tied to positions counted from each
sequence's first real token: a left-padded (or holed) batch has its real tokens moved to the
front first and the outputs moved back after (right padding, the usual case, needs no
copy), so the padding side never changes a real output. Padded rows of LayerNorm(Z2) are
zeroed before W, so padding never reaches a real token. The shortcut "+ X" of the pseudo-code is
the composed model's residual (``x = norm(x + dropout(mixer(x)))``), not repeated here.
Cost O(n² d_ffn / 2) for the spatial projection: quadratic in length, like attention.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from ._common import check_max_len, compact, restore, token_matmul
from .configs import GMLPConfig


class GMLPMixer(Mixer):
    def __init__(self, dim: int, max_len: int = 512, hidden: int | None = None):
        super().__init__()
        d_ffn = hidden or 2 * dim
        if d_ffn % 2:
            raise ValueError(f"hidden={d_ffn} must be even (the spatial gating unit splits it in two); "
                             f"use hidden={d_ffn + 1}")
        self.dim, self.max_len, self.hidden = dim, max_len, hidden
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, d_ffn)
        self.gate_norm = nn.LayerNorm(d_ffn // 2)
        # near-zero W and unit b: the block starts close to a plain channel MLP (paper, sec. 2)
        self.spatial_weight = nn.Parameter(torch.empty(max_len, max_len).uniform_(-1e-3, 1e-3) / max_len)
        self.spatial_bias = nn.Parameter(torch.ones(max_len))
        self.down = nn.Linear(d_ffn // 2, dim)

    @classmethod
    def from_config(cls, cfg: GMLPConfig) -> "GMLPMixer":
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        t = x.shape[1]
        check_max_len("gmlp", t, self.max_len)
        x, lengths, order = compact(x, mask)  # W indexes positions from each sequence's first real token
        if order is not None:
            mask = torch.arange(t, device=mask.device) < lengths.unsqueeze(1)
        z = F.gelu(self.up(self.norm(x)))
        z1, z2 = z.chunk(2, dim=-1)
        z2 = self.gate_norm(z2) * mask.unsqueeze(-1).to(z2.dtype)
        if isinstance(t, int):
            weight, bias = self.spatial_weight[:t, :t], self.spatial_bias[:t, None]
        else:  # a symbolic length (torch.export): a slice that may be the whole weight (t == max_len) is
            rows = torch.arange(t, device=x.device)  # specialised by its contiguity check; gather the rows
            weight, bias = self.spatial_weight[rows][:, rows], self.spatial_bias[rows].unsqueeze(1)
        gate = token_matmul(weight, z2) + bias  # (B, T, d_ffn/2)
        return restore(self.down(z1 * gate), order)
