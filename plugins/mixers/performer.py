"""Performer: softmax attention approximated by FAVOR+ positive orthogonal random features.

Post: "Deep learning papers/notes 01: Performers, Lookahead, rADAM"
Paper: Choromanski et al., "Rethinking Attention with Performers", ICLR 2021,
arXiv:2009.14794, section 2 (eq. 4-5, Lemma 1: positive random features; section 2.4:
orthogonal random features)

The post: factorise softmax(Q Kᵀ) V ≈ Q' (K'ᵀ V) with positive orthogonal random features,
linear in L.

    q, k, v = X W_q, X W_k, X W_v, per head of d = dim / heads; q, k scaled by d^(-1/4)
    φ(x) = exp(-|x|²/2) / √m · [exp(ω_1ᵀx), ..., exp(ω_mᵀx)]     E[φ(q)ᵀφ(k)] = exp(qᵀk)
    ω_1..ω_m: blocks of d orthogonal directions (QR of a Gaussian matrix), each row rescaled
              to the norm of an independent d-dimensional Gaussian vector (unbiased)
    y_i = φ(q_i)ᵀ Σ_j φ(k_j) v_jᵀ / φ(q_i)ᵀ Σ_j φ(k_j)   ≈ softmax(q kᵀ/√d) v
    causal: sums over j <= i (prefix sums, computed in chunks)
    Y = concat(heads) W_o

For numerical stability the exponents are shifted by a detached maximum (per query over
its features; per sequence and head over the real keys); it cancels in the ratio, as does
the constant 1/√m, which is therefore never applied.
Padded keys get φ = 0. The features are a buffer saved with the weights, so a loaded model
computes exactly what was trained; ``redraw_interval`` > 0 draws new ones during training.
Cost O(T m d) instead of O(T² d); the approximation improves as m grows.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor, nn

from zoo_core.config import heads_divide_dim
from zoo_core.interfaces import Mixer

from ._common import causal_linear_attention, linear_attention, no_padding


def orthogonal_random_features(m: int, d: int, generator: torch.Generator | None = None) -> Tensor:
    """(m, d) matrix: stacked blocks of d orthogonal rows, each scaled to a chi(d) norm."""
    blocks = []
    for _ in range(math.ceil(m / d)):
        q, r = torch.linalg.qr(torch.randn(d, d, generator=generator))
        # sign fix: without it LAPACK's Q is not Haar-distributed and the estimator is biased
        blocks.append((q * torch.sign(torch.diagonal(r))).t())
    directions = torch.cat(blocks)[:m]
    norms = torch.randn(m, d, generator=generator).norm(dim=1, keepdim=True)
    return directions * norms


def positive_features(x: Tensor, projection: Tensor, is_query: bool, valid: Tensor | None = None,
                      time_dim: int = 1) -> Tensor:
    """φ(x)·√m for x (..., d), already scaled by d^(-1/4), with tokens on ``time_dim`` of a
    (B, T, H, d) or (B, H, T, d) layout -> (..., m); tokens where ``valid`` (B, T) is False
    (padding) get φ = 0.

    The constant 1/√m of φ and the shifts by a detached maximum cancel between the numerator
    and the denominator of the attention, so they are left out or free to choose.
    """
    # ωᵀx - |x|²/2; the m-wide exponent is then only updated in place (at long lengths these
    # (B, T, H, m) tensors no longer fit in cache and every pass over them counts). matmul's
    # output is not a view (an addmm on the flattened rows viewed back is): in-place ops on a
    # view cost autograd a zero-filled copy of the whole base and two more copies in backward.
    exponent = torch.matmul(x, projection.t()).add_(x.pow(2).sum(-1, keepdim=True).mul_(-0.5))  # add_: no negated grad
    if valid is not None:
        pad = ~valid[:, :, None, None] if time_dim == 1 else ~valid[:, None, :, None]
        exponent = exponent.masked_fill(pad, float("-inf"))  # exp(-inf) = 0
    with torch.no_grad():
        shift = exponent.amax(dim=(-1,) if is_query else (time_dim, -1), keepdim=True)  # per query; per head
    return exponent.sub_(shift).exp_()


def favor_attention(q: Tensor, k: Tensor, v: Tensor, projection: Tensor, mask: Tensor | None = None,
                    causal: bool = False) -> Tensor:
    """FAVOR+ estimate of softmax(q kᵀ / √d) v per head for q, k, v (B, T, H, d); mask (B, T)
    True at real tokens. Returns (B, T, H, d)."""
    b, t, h, d = q.shape
    scale = d ** -0.25
    valid = None if mask is None or no_padding(mask) else mask
    if causal:  # the chunked kernel wants heads first: move the d-wide inputs, not the m-wide features
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # (B, H, T, d)
        qf = positive_features(q * scale, projection, True, time_dim=2)
        kf = positive_features(k * scale, projection, False, valid, time_dim=2)
        return causal_linear_attention(qf, kf, v).transpose(1, 2)
    qf = positive_features(q * scale, projection, True)
    kf = positive_features(k * scale, projection, False, valid)
    return linear_attention(qf.reshape(b, t, -1), kf.reshape(b, t, -1), v.reshape(b, t, -1), h).view(b, t, h, d)


class PerformerMixer(Mixer):
    def __init__(self, *, dim: int = 64, heads: int = 4, features: int | None = None, causal: bool = False,
                 redraw_interval: int = 0):
        super().__init__()
        heads_divide_dim(dim, heads)
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.causal, self.redraw_interval = causal, redraw_interval
        self.features = features or max(1, round(self.head_dim * math.log(self.head_dim)))  # m
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)
        self.register_buffer("projection", orthogonal_random_features(self.features, self.head_dim))
        self._calls = 0

    @torch.no_grad()
    def redraw(self) -> None:
        self.projection.copy_(orthogonal_random_features(self.features, self.head_dim).to(self.projection))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        if self.training and self.redraw_interval:
            if self._calls and self._calls % self.redraw_interval == 0:
                self.redraw()
            self._calls += 1
        q, k, v = (rearrange(proj(x), "b t (h d) -> b t h d", h=self.heads) for proj in (self.to_q, self.to_k, self.to_v))
        y = favor_attention(q, k, v, self.projection, mask, self.causal)
        return self.out(rearrange(y, "b t h d -> b t (h d)"))
