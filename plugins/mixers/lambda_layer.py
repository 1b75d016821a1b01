"""Lambda layer (content lambda + optional position lambdas) as a token mixer.

Posts: "LambdaNetworks: A Quick Glimpse" (drop-in for attention; swapping the softmax over
keys for a kernel learned faster) and "Token Interactions: Mixing, Lambda and Attention"
(a lambda layer right after the embedding mixes tokens; (32, 512, 64) in ~41 ms vs ~283 ms
for kernel attention).
Paper: Bello, "LambdaNetworks: Modeling Long-Range Interactions Without Attention",
ICLR 2021, arXiv:2102.08602, section 3, eqs. (1)-(2) and Fig. 3 (multi-query lambdas, |u| = 1).

    Q = X W_q  (B, n, h, k)     K = X W_k  (B, m, k)     V = X W_v  (B, m, v),  v = dim / h
    K̄ = normalise K over the context m, per key depth (softmax, or elu+1 kernel / its sum)
    content lambda      λc = K̄ᵀ V                          (B, k, v), shared by all queries
    position lambdas    λp_n = E_nᵀ V,  E_n[m] = e[m - n] for |m - n| <= window, else 0
    output              y_n = concat over heads of (λc + λp_n)ᵀ q_n      (B, n, h*v = dim)

Keys, values and position embeddings are shared by the h query heads (multi-query).
Cost O(n k v) for the content lambda and O(n (2w+1) (k + v) h) for the position lambdas:
linear in sequence length. With ``causal=True`` every sum over m runs over m <= n only:
the softmax over keys becomes a running softmax (prefix sums of exp(K), shifted by a
detached per-depth maximum that cancels in the ratio) and the lambdas are prefix sums,
computed in chunks. Padding is removed from the context: its keys get zero weight and its
values are zeroed. Left out from the paper: the batch normalisation of queries and values
(batch statistics would mix in padded tokens; the post found it did not help).

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from ._common import causal_multi_query
from .configs import LambdaConfig


class LambdaMixer(Mixer):
    def __init__(self, cfg: LambdaConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.h, self.k, self.v = cfg.heads, cfg.dim_k, cfg.dim // cfg.heads
        self.to_q = nn.Linear(cfg.dim, self.h * self.k, bias=False)
        self.to_k = nn.Linear(cfg.dim, self.k, bias=False)
        self.to_v = nn.Linear(cfg.dim, self.v, bias=False)
        if cfg.position_lambda:
            offsets = cfg.window + 1 if cfg.causal else 2 * cfg.window + 1
            # rel_pos[r] = e for relative position m - n = r - window
            self.rel_pos = nn.Parameter(torch.randn(offsets, self.k) * self.k ** -0.5)

    def project(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Q (B, n, h, k), K (B, m, k) and V (B, m, v), V zeroed at padding."""
        b, n, _ = x.shape
        q = self.to_q(x).view(b, n, self.h, self.k)
        return q, self.to_k(x), self.to_v(x) * mask.unsqueeze(-1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, n, _ = x.shape
        q, keys, v = self.project(x, mask)
        valid = mask.unsqueeze(-1)
        if self.cfg.normalize == "kernel":
            weights = (F.elu(keys) + 1).masked_fill(~valid, 0.0)  # unnormalised K̄, 0 at padding
        else:
            keys = keys.masked_fill(~valid, float("-inf"))
            if self.cfg.causal:
                weights = (keys - keys.amax(dim=1, keepdim=True).detach()).exp()  # 0 at padding
            else:
                weights = keys.softmax(dim=1)  # K̄ itself
        if self.cfg.causal:
            # y_n = Σ_k q_nk / Z_nk · Σ_{m<=n} w_mk v_m with Z_nk = Σ_{m<=n} w_mk: the per-depth
            # normaliser moves onto the query, leaving an unnormalised causal linear attention
            # whose keys and values are shared by the heads.
            z = weights.cumsum(1).clamp_min(1e-12)  # (B, n, k)
            y = causal_multi_query(q / z.unsqueeze(2), weights, v)  # (B, n, h, v)
        else:
            if self.cfg.normalize == "kernel":
                weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-12)
            content = weights.transpose(1, 2) @ v  # λc = K̄ᵀ V: (B, k, v)
            y = (q.reshape(b, n * self.h, self.k) @ content).view(b, n, self.h, self.v)
        if self.cfg.position_lambda:
            y = y + self.position_output(q, v)
        return y.reshape(b, n, self.h * self.v)

    def position_output(self, q: Tensor, v: Tensor) -> Tensor:
        """λp_nᵀ q_n = Σ_r (q_n · e_r) v_{n+r-window}: the position lambdas applied to the
        queries without materialising any λp_n (B, n, h, v)."""
        w = self.cfg.window
        n = v.shape[1]
        left, right = (w, 0) if self.cfg.causal else (w, w)
        padded = F.pad(v, (0, 0, left, right))  # (B, n + left + right, v); outside the sequence = 0
        scores = q @ self.rel_pos.t()  # (B, n, h, R): q_n · e_r
        out = scores[..., :1] * padded[:, :n].unsqueeze(2)  # (B, n, h, v)
        for r in range(1, left + right + 1):
            out = out.addcmul(scores[..., r:r + 1], padded[:, r:r + n].unsqueeze(2))
        return out
