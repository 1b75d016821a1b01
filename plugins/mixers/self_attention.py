"""Multi-head self-attention on ``torch.nn.functional.scaled_dot_product_attention``, with DropHead.

Posts: "Let's Make AI Green (Again)" and "N Layers is All We Need?" (vanilla self-attention
as the quadratic reference mixer); "Attention: Drop Heads Not Dimensions" (regularise whole
heads with 2D dropout over the heads axis instead of 1D dropout over units).
Papers: Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (arXiv:1706.03762);
Zhou et al., "Scheduled DropHead", Findings of EMNLP 2020 (2020.findings-emnlp.178).

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
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from ._common import no_padding
from .configs import SelfAttentionConfig


class SelfAttentionMixer(Mixer):
    def __init__(self, cfg: SelfAttentionConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.h, self.d = cfg.heads, cfg.dim // cfg.heads
        self.causal = cfg.causal
        self.drop_head = cfg.drop_head  # a plain attribute, so a schedule can change it between steps
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=cfg.bias)
        self.out = nn.Linear(cfg.dim, cfg.dim, bias=cfg.bias)

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
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.h, self.d).permute(2, 0, 3, 1, 4).unbind(0)  # (B, H, T, d)
        allowed = self.attention_mask(mask)
        heads = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                               is_causal=self.causal and allowed is None)
        if self.training and self.drop_head > 0:
            # (B, H, T, d) reads as dropout2d's (N, C, H, W): one Bernoulli draw per (sequence, head)
            heads = F.dropout2d(heads, self.drop_head, training=True)
        return self.out(heads.transpose(1, 2).reshape(b, t, self.dim))
