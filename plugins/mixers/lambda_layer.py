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
linear in sequence length. With ``causal=True`` every sum over m runs over m <= n only
(Bello's causal form): the softmax over keys is taken over m <= n for each query position n,

    K̄_n[m, k] = exp(K[m, k] - M[n, k]) / Σ_{m' <= n} exp(K[m', k] - M[n, k]),  M[n] = max_{m <= n} K[m]

shifted by the running maximum of the prefix (never by a later key, which would underflow
the earlier weights and let the future move the past by value). It is computed in chunks
of ``SOFTMAX_CHUNK`` positions: inside a chunk the (C x C) weights exp(K_m - M_n) with
m <= n, across chunks a running state Σ exp(K_m - r) v_m rescaled to each chunk's running
maximum r as the scan moves on, so every exponent is <= 0. The kernel (elu+1) form needs
no shift: its lambdas are prefix sums, computed in chunks. Padding is removed from the
context: its keys get zero weight and its values are zeroed. Left out from the paper: the batch normalisation of queries and values
(batch statistics would mix in padded tokens; the post found it did not help).

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from ._common import causal_multi_query, tracing
from .configs import LambdaConfig


SOFTMAX_CHUNK = 32  # positions per chunk of the causal softmax: (C x C x k) weights per chunk


class LambdaMixer(Mixer):
    def __init__(self, dim: int, heads: int = 4, dim_k: int = 16, normalize: str = "softmax",
                 position_lambda: bool = False, window: int = 7, causal: bool = False):
        super().__init__()
        if dim % heads:
            raise ValueError(f"heads={heads} must divide dim={dim}; choose another heads or change dim")
        if normalize not in ("softmax", "kernel"):
            raise ValueError(f"normalize={normalize!r}: use 'softmax' or 'kernel'")
        self.dim, self.heads, self.dim_k, self.normalize = dim, heads, dim_k, normalize
        self.position_lambda, self.window, self.causal = position_lambda, window, causal
        self.h, self.k, self.v = heads, dim_k, dim // heads
        self.to_q = nn.Linear(dim, self.h * self.k, bias=False)
        self.to_k = nn.Linear(dim, self.k, bias=False)
        self.to_v = nn.Linear(dim, self.v, bias=False)
        if position_lambda:
            offsets = window + 1 if causal else 2 * window + 1
            # rel_pos[r] = e for relative position m - n = r - window
            self.rel_pos = nn.Parameter(torch.randn(offsets, self.k) * self.k ** -0.5)

    @classmethod
    def from_config(cls, cfg: LambdaConfig) -> "LambdaMixer":
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})

    def project(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Q (B, n, h, k), K (B, m, k) and V (B, m, v), V zeroed at padding."""
        b, n, _ = x.shape
        q = self.to_q(x).view(b, n, self.h, self.k)
        return q, self.to_k(x), self.to_v(x) * mask.unsqueeze(-1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, n, _ = x.shape
        q, keys, v = self.project(x, mask)
        valid = mask.unsqueeze(-1)
        if self.normalize == "softmax" and self.causal:
            y = causal_softmax_lambda(q, keys.masked_fill(~valid, float("-inf")), v)
        elif self.normalize == "softmax":
            content = keys.masked_fill(~valid, float("-inf")).softmax(dim=1).transpose(1, 2) @ v  # λc = K̄ᵀ V
            y = (q.reshape(b, n * self.h, self.k) @ content).view(b, n, self.h, self.v)
        else:
            weights = (F.elu(keys) + 1).masked_fill(~valid, 0.0)  # unnormalised K̄, 0 at padding
            if self.causal:
                # y_n = Σ_k q_nk / Z_nk · Σ_{m<=n} w_mk v_m with Z_nk = Σ_{m<=n} w_mk: the per-depth
                # normaliser moves onto the query, leaving an unnormalised causal linear attention
                # whose keys and values are shared by the heads.
                z = weights.cumsum(1).clamp_min(1e-12)  # (B, n, k)
                y = causal_multi_query(q / z.unsqueeze(2), weights, v)  # (B, n, h, v)
            else:
                content = (weights / weights.sum(1, keepdim=True).clamp_min(1e-12)).transpose(1, 2) @ v
                y = (q.reshape(b, n * self.h, self.k) @ content).view(b, n, self.h, self.v)
        if self.position_lambda:
            y = y + self.position_output(q, v)
        return y.reshape(b, n, self.h * self.v)

    def position_output(self, q: Tensor, v: Tensor) -> Tensor:
        """λp_nᵀ q_n = Σ_r (q_n · e_r) v_{n+r-window}: the position lambdas applied to the
        queries without materialising any λp_n (B, n, h, v)."""
        w = self.window
        n = v.shape[1]
        left, right = (w, 0) if self.causal else (w, w)
        padded = F.pad(v, (0, 0, left, right))  # (B, n + left + right, v); outside the sequence = 0
        scores = q @ self.rel_pos.t()  # (B, n, h, R): q_n · e_r
        out = scores[..., :1] * padded[:, :n].unsqueeze(2)  # (B, n, h, v)
        for r in range(1, left + right + 1):
            out = out.addcmul(scores[..., r:r + 1], padded[:, r:r + n].unsqueeze(2))
        return out


def causal_softmax_lambda(q: Tensor, keys: Tensor, v: Tensor, chunk: int = SOFTMAX_CHUNK) -> Tensor:
    """y_n = Σ_k q_nk Σ_{m<=n} softmax_{m<=n}(K[:, k])_m v_m for q (B, T, h, k), keys (B, T, k)
    (-inf at padding), v (B, T, v) -> (B, T, h, v), reading no position after n.

    The keys are shifted by causal maxima only, so no later key can underflow an earlier
    weight. The chunks before the current one carry a state S = Σ exp(K_m - r) v_m (and its
    normaliser) at the previous chunk's running maximum r, rescaled when read. Inside a chunk
    the weights exp(K_m - s) share one shift s per chunk and key depth, the running maximum
    at the chunk's FIRST position (causal for every position of the chunk): then the chunk
    is a masked (C x C) linear attention, two matrix products. That is exact in floating
    point as long as the keys rise by at most ``RISE_LIMIT`` within the chunk (exponents stay
    <= RISE_LIMIT, and the largest weight of every prefix is >= 1); a chunk where they rise
    more is recomputed with per-position shifts M_n (its (C x C x k) weights exp(K_m - M_n)),
    which is also the form traced and exported graphs record.
    """
    b, t, h, k = q.shape
    e = v.shape[-1]
    c = min(chunk, t)
    pad = (-t) % c
    if pad:
        q = F.pad(q, (0, 0, 0, 0, 0, pad))
        keys = F.pad(keys, (0, 0, 0, pad), value=float("-inf"))
        v = F.pad(v, (0, 0, 0, pad))
    nc = (t + pad) // c
    run_max = keys.cummax(dim=1).values  # M_n: max over m <= n only
    run_max = torch.where(torch.isfinite(run_max), run_max, torch.zeros_like(run_max))  # before any real key
    run_max = run_max.detach()  # a shift: it cancels in the ratio, so no gradient is needed through it
    kc, mc = keys.view(b, nc, c, k), run_max.view(b, nc, c, k)
    qc, vc = q.view(b, nc, c, h, k), v.view(b, nc, c, e)
    prev_state, prev_norm, prev_ref = _chunk_states(kc, mc, vc)
    if tracing():
        return _intra_per_position(qc, kc, mc, vc, prev_state, prev_norm, prev_ref).reshape(b, nc * c, h, e)[:, :t]
    shift = mc[:, :, 0]  # (B, nc, k): s = M at the chunk's first position
    rise = (mc - shift.unsqueeze(2)).abs().amax(2)  # (B, nc, k); |.|: the 0 standing in before any real key
    out = _intra_shared_shift(qc, kc, shift, vc, prev_state, prev_norm, prev_ref)
    steep = (rise > RISE_LIMIT).any(-1).nonzero(as_tuple=True)  # (batch, chunk) pairs needing M_n
    if steep[0].numel():
        exact = _intra_per_position(*(z[steep] for z in (qc, kc, mc, vc, prev_state, prev_norm, prev_ref)))
        out = out.index_put(steep, exact)
    return out.reshape(b, nc * c, h, e)[:, :t]


RISE_LIMIT = 30.0  # largest rise of the keys within a chunk computed with one shared shift (exp(30) ~ 1e13)


def _chunk_states(kc: Tensor, mc: Tensor, vc: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For each chunk j: the state Σ_{m before chunk j} exp(K_m - r_j) v_m (B, nc, k, v), its
    normaliser (B, nc, k) and r_j (B, nc, k), the running maximum at the end of chunk j-1
    (0 before the first chunk)."""
    b, nc, c, k = kc.shape
    ends = mc[:, :, -1]  # (B, nc, k): running maximum at each chunk's last position
    local = (kc - ends.unsqueeze(2)).exp()  # (B, nc, C, k), exponents <= 0
    chunk_state = local.transpose(-1, -2) @ vc  # (B, nc, k, v): Σ_m exp(K_m - r) v_m within each chunk
    chunk_norm = local.sum(2)  # (B, nc, k)
    prev_ref = torch.cat([torch.zeros_like(ends[:, :1]), ends[:, :-1]], 1)  # r_j
    # <= 1: the running maximum never decreases (only the 0 standing in for a shift before any
    # real key can exceed it, and then the state is still 0)
    scales = (prev_ref - ends).clamp_max(0).exp()  # (B, nc, k): r_j -> r_{j+1}
    states, norms = [], []
    state, norm = vc.new_zeros(b, k, vc.shape[-1]), vc.new_zeros(b, k)
    for j in range(nc):
        states.append(state)
        norms.append(norm)
        state = torch.addcmul(chunk_state[:, j], state, scales[:, j].unsqueeze(-1))
        norm = torch.addcmul(chunk_norm[:, j], norm, scales[:, j])
    return torch.stack(states, 1), torch.stack(norms, 1), prev_ref


def _intra_shared_shift(qc: Tensor, kc: Tensor, shift: Tensor, vc: Tensor, prev_state: Tensor, prev_norm: Tensor,
                        prev_ref: Tensor) -> Tensor:
    """Outputs (B, nc, C, h, v) with weights exp(K_m - s) for one shift s (B, nc, k) per chunk."""
    b, nc, c, h, k = qc.shape
    w = (kc - shift.unsqueeze(2)).clamp_max(RISE_LIMIT).exp()  # (B, nc, C, k); the clamp only bites in steep chunks
    carry = (prev_ref - shift).clamp_max(0).exp()  # (B, nc, k): exp(r_j - s) <= 1
    z = w.cumsum(2) + (carry * prev_norm).unsqueeze(2)  # Σ_{m<=n} exp(K_m - s) >= 1 at real n
    qn = (qc / z.clamp_min(1e-30).unsqueeze(3)).reshape(b, nc, c * h, k)  # rows (position, head)
    rows_see = torch.ones(c, c, dtype=torch.bool, device=qc.device).tril().repeat_interleave(h, dim=0)
    scores = (qn @ w.transpose(-1, -2)).masked_fill_(~rows_see, 0.0)  # (B, nc, C·h, C_m)
    out = torch.baddbmm(
        (qn.view(b * nc, c * h, k) @ (carry.unsqueeze(-1) * prev_state).view(b * nc, k, -1)),
        scores.view(b * nc, c * h, c), vc.reshape(b * nc, c, -1))
    return out.view(b, nc, c, h, -1)


def _intra_per_position(qc: Tensor, kc: Tensor, mc: Tensor, vc: Tensor, prev_state: Tensor, prev_norm: Tensor,
                        prev_ref: Tensor) -> Tensor:
    """Outputs (..., C, h, v) with weights exp(K_m - M_n) for each position n (any leading dims)."""
    *lead, c, h, k = qc.shape
    tril = torch.ones(c, c, dtype=torch.bool, device=qc.device).tril()
    # inside the chunk: w[n, m, k] = exp(K_m - M_n) for m <= n (K_m <= M_n there), else 0
    diff = kc.unsqueeze(-3) - mc.unsqueeze(-2)  # (..., C_n, C_m, k)
    w = diff.masked_fill(~tril.unsqueeze(-1), float("-inf")).exp()
    carry = (prev_ref.unsqueeze(-2) - mc).clamp_max(0).exp()  # (..., C, k): exp(r_j - M_n)
    z = w.sum(-2) + carry * prev_norm.unsqueeze(-2)  # Σ_{m<=n} exp(K_m - M_n) >= 1 at real n
    qn = qc / z.clamp_min(1e-30).unsqueeze(-2)  # (..., C, h, k): the normaliser moves onto the query
    scores = qn @ w.transpose(-1, -2)  # (..., C, h, C_m): Σ_k q'_nhk w_nmk
    out = scores.reshape(*lead, c * h, c) @ vc  # (..., C·h, v)
    return out.view(*lead, c, h, -1) + (qn * carry.unsqueeze(-2)).reshape(*lead, c * h, k).matmul(prev_state).view(
        *lead, c, h, -1)
