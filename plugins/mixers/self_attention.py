"""Multi-head self-attention on ``torch.nn.functional.scaled_dot_product_attention``, with DropHead.

Posts: "Let's Make AI Green (Again)"; "N Layers is All We Need?";
"Attention: Drop Heads Not Dimensions"
Papers: Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (arXiv:1706.03762);
Zhou et al., "Scheduled DropHead", Findings of EMNLP 2020 (2020.findings-emnlp.178)

The first two posts use vanilla self-attention as the quadratic reference mixer; the third
regularises whole heads with 2D dropout over the heads axis instead of 1D dropout over units.

    q, k, v = X W_q, X W_k, X W_v                split into h heads of d = dim / h
    head_i = softmax(q_i k_iᵀ / √d + M) v_i      M = -inf at padded keys (and t' > t if causal)
    heads  = dropout2d(heads, p)                 training only: each (sequence, head) is zeroed
                                                 with probability p, survivors scaled by 1/(1-p)
    Y = concat(heads) W_o

SDPA picks the fused CPU kernel (flash attention) and never materialises the (T, T)
weights when there is no padding. nn.MultiheadAttention is avoided: it is slower on CPU.
Cost O(T² d) time; memory O(T) with the fused kernel.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.config import heads_divide_dim
from zoo_core.interfaces import Mixer

from ._common import no_padding


class SelfAttentionMixer(Mixer):
    def __init__(self, *, dim: int = 64, heads: int = 4, causal: bool = False, drop_head: float = 0.0,
                 bias: bool = True):
        super().__init__()
        heads_divide_dim(dim, heads)
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.causal = causal
        self.drop_head = drop_head  # a plain attribute, so a schedule can change it between steps
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)

    def attention_mask(self, mask: Tensor) -> Tensor | None:
        """Boolean (B, 1, T|1, T) mask of allowed (query, key) pairs, or None when SDPA's own
        ``is_causal`` (or nothing) suffices."""
        if no_padding(mask):
            return None
        allowed = mask[:, None, None, :]
        if self.causal:
            t = mask.shape[1]
            allowed = allowed & torch.ones(t, t, dtype=torch.bool, device=mask.device).tril()
            # a padded query before the first real token would see no key at all (softmax of an
            # empty row is NaN); letting every query see itself keeps it finite and changes no
            # real output, whose own position is always allowed already.
            allowed = allowed | torch.eye(t, dtype=torch.bool, device=mask.device)
        return allowed

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        q, k, v = rearrange(self.qkv(x), "b t (qkv h d) -> qkv b h t d", qkv=3, h=self.heads).unbind(0)
        allowed = self.attention_mask(mask)
        heads = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                               is_causal=self.causal and allowed is None)
        if self.training and self.drop_head > 0:
            # (B, H, T, d) reads as dropout2d's (N, C, H, W): one Bernoulli draw per (sequence, head)
            heads = F.dropout2d(heads, self.drop_head, training=True)
        return self.out(rearrange(heads, "b h t d -> b t (h d)"))
