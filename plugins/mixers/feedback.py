"""Feedback memory: a small stack of attention layers in which every layer of token t attends
to one memory per earlier token, a learned mix of all of that token's layer states.

Post: "Deep learning notes 03: Switch, Feedback, and generally transformers" (all layers of a
token are combined by a weighted sum into one memory; later tokens attend to those memories;
parallel training is lost, left tokens must be computed fully first).
Paper: Fan, Lavril, Grave, Joulin, Sukhbaatar, "Addressing Some Limitations of Transformers
with Feedback Memory" (Feedback Transformer), arXiv:2002.09402, section 4.

For token t with input x_t^0 = x_t and layers l = 1..L:

    m_s     = Σ_{l=0..L} softmax(w)_l x_s^l                     one memory per earlier token s
    z_t^l   = Attn(x_t^{l-1}, [m_1, ..., m_{t-1}])              multi-head; keys/values from memories
    x_t^l   = LN(u + FF(u)),  u = LN(x_t^{l-1} + z_t^l)         post-norm residual blocks
    output  = x_t^L

The key and value projections of the memories are shared by all layers (all layers read the
same memories; the paper shares them too, so each memory is projected once). The first token
has no memory to read: its attention output is 0. Positions come from the model's position
encoding (no relative positions).

Sequential by nature: token t needs the memories of every earlier token, which need all of
their layers, so the forward runs T steps of L layers (no parallelism over time, unlike every
other attention mixer here). Time O(T² dim + T L dim²); the memory kept for the backward pass
grows as O(T² dim) (each step's keys and values are stacked anew). Causal by construction.
Padding: real tokens are moved to the front, run, and put back; padded positions output 0.
Shape contract: (B, T, dim), mask (B, T) bool -> (B, T, dim); sequential cost T * layers steps.
"""
from __future__ import annotations

import torch
from einops import einsum, rearrange
from torch import Tensor, nn
from torch.nn import functional as F


from zoo_core.interfaces import Mixer

from ._common import compact, restore
from .configs import FeedbackConfig


class FeedbackMixer(Mixer):
    causal = True

    def __init__(self, *, dim: int = 64, layers: int = 2, heads: int = 4, hidden: int | None = None):
        super().__init__()
        if dim % heads:
            raise ValueError(f"heads={heads} must divide dim={dim}; choose another heads or change dim")
        self.dim, self.layers, self.heads, self.hidden = dim, layers, heads, hidden or 2 * dim
        self.layer_logits = nn.Parameter(torch.zeros(layers + 1))  # w: softmax(w) mixes x^0..x^L into m
        self.to_kv = nn.Linear(dim, 2 * dim)  # shared by all layers
        self.to_q = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.to_out = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.norm_attn = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.norm_ff = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.ff = nn.ModuleList(nn.Sequential(nn.Linear(dim, self.hidden), nn.ReLU(), nn.Linear(self.hidden, dim))
                                for _ in range(layers))

    @classmethod
    def from_config(cls, cfg: FeedbackConfig) -> "FeedbackMixer":
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})

    def attend(self, layer: int, state: Tensor, keys: Tensor | None, values: Tensor | None) -> Tensor:
        """z^l: state (B, dim) attends to the memories' keys/values (B, heads, s, dim/heads)."""
        if keys is None:
            return torch.zeros_like(state)  # no earlier token: nothing to read
        q = rearrange(self.to_q[layer](state), "b (h k) -> b h 1 k", h=self.heads)
        z = F.scaled_dot_product_attention(q, keys, values)
        return self.to_out[layer](rearrange(z, "b h 1 k -> b (h k)"))

    def step(self, x_t: Tensor, keys: Tensor | None, values: Tensor | None) -> tuple[Tensor, Tensor]:
        """One token through all layers: (its top state (B, dim), its memory m_t (B, dim))."""
        states = [x_t]
        s = x_t
        for layer in range(self.layers):
            u = self.norm_attn[layer](s + self.attend(layer, s, keys, values))
            s = self.norm_ff[layer](u + self.ff[layer](u))
            states.append(s)
        memory = einsum(self.layer_logits.softmax(0), torch.stack(states), "l, l b d -> b d")
        return s, memory

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        xc, _, order = compact(x, mask)
        t = xc.shape[1]
        keys: list[Tensor] = []
        values: list[Tensor] = []
        outs = []
        for i in range(t):
            k = torch.stack(keys, 2) if keys else None  # (B, heads, i, dim/heads)
            v = torch.stack(values, 2) if values else None
            top, memory = self.step(xc[:, i], k, v)
            mk, mv = rearrange(self.to_kv(memory), "b (two h k) -> two b h k", two=2, h=self.heads)
            keys.append(mk)
            values.append(mv)
            outs.append(top)
        y = restore(torch.stack(outs, 1), order)
        return y * mask.unsqueeze(-1).to(y.dtype)
