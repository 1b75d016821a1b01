"""Helpers shared by several mixers (not a component).

- ``MaxLenError`` and ``check_max_len``: the error fixed-length mixers raise;
  ``token_matmul``: a (R, T) matrix applied along the tokens as one GEMM.
- ``compact``/``restore``: move each sequence's real tokens to the front (stable), for
  methods that must see only the real tokens as one contiguous sequence (FNet's FFT, packed
  RNNs). Right-padded batches, the usual case, take the no-copy path.
- ``tracing``/``no_padding``: fast paths that stay out of traced/exported graphs.
- ``linear_attention``: kernel attention Σ_s (q·k_s) v_s / Σ_s q·k_s in linear time, per
  head on heads side by side, with a hand-written backward.
- ``causal_linear_attention``: prefix-sum (causal) kernel attention computed in chunks,
  exact, without materialising a (T, k, v) state per position; ``causal_multi_query``
  is the same for queries with several heads sharing one key/value sequence (lambda).
"""
from __future__ import annotations

import torch
from torch import Tensor

from zoo_core.errors import ZooError
from zoo_core.model import real_first_order, tracing  # noqa: F401 (tracing: the mixers import it from here)


class MaxLenError(ZooError, ValueError):
    """A sequence longer than a fixed-length mixer's ``max_len``."""


def check_max_len(name: str, length: int, max_len: int) -> None:
    if length > max_len:
        raise MaxLenError(f"mixer {name}: sequence of {length} tokens exceeds max_len={max_len}; "
                          f"set mixer.max_len={length} (or truncate the input, e.g. tokenizer.max_tokens={max_len})")


def token_matmul(weight: Tensor, x: Tensor) -> Tensor:
    """weight (R, T) applied along the tokens of x (B, T, C) -> (B, R, C), as one GEMM.

    ``weight @ x`` would broadcast the weight to (B, R, T) and run B small products;
    folding the batch into the columns, (R, T) @ (T, B·C), is one large product.
    """
    b, t, c = x.shape
    out = weight @ x.transpose(0, 1).reshape(t, b * c)
    return out.view(-1, b, c).transpose(0, 1)


def is_right_padded(mask: Tensor, lengths: Tensor) -> bool:
    """True when every sequence's real tokens come first (mask == arange < length)."""
    positions = torch.arange(mask.shape[1], device=mask.device)
    return bool(torch.equal(mask, positions.unsqueeze(0) < lengths.unsqueeze(1)))


def compact(x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """Real tokens first, in their order: (x_compact, lengths, order or None if already so)."""
    lengths = mask.sum(1)
    if not tracing() and is_right_padded(mask, lengths):  # a traced graph keeps the general path
        return x, lengths, None
    order = real_first_order(mask)  # real positions first
    return x.gather(1, order.unsqueeze(-1).expand_as(x)), lengths, order


def restore(y: Tensor, order: Tensor | None) -> Tensor:
    """Undo ``compact`` on an output of the same (B, T, ...) layout."""
    if order is None:
        return y
    out = torch.empty_like(y)
    return out.scatter_(1, order.unsqueeze(-1).expand_as(y), y)


def _linear_attention_traceable(q: Tensor, k: Tensor, v: Tensor, heads: int, shift: float, eps: float) -> Tensor:
    """``_LinearAttention``'s forward without in-place writes or ``out=``: what traced and
    exported graphs record (a Python autograd.Function cannot be)."""
    b, t, _ = q.shape
    f, e = q.shape[-1] // heads, v.shape[-1] // heads
    ksum = (k.sum(1) + shift * t).view(b, 1, heads, f)
    rden = ((q.view(b, t, heads, f) * ksum).sum(-1) + shift * ksum.sum(-1)).clamp(min=eps).reciprocal()
    vsum = v.sum(1).view(b, heads, 1, e) * shift
    outs = []
    for h in range(heads):
        qh, kh, vh = q[..., h * f:(h + 1) * f], k[..., h * f:(h + 1) * f], v[..., h * e:(h + 1) * e]
        state = torch.baddbmm(vsum[:, h], kh.transpose(1, 2), vh)
        outs.append(torch.baddbmm(state.sum(1, keepdim=True) * shift, qh, state))
    return (torch.stack(outs, 2) * rden.unsqueeze(-1)).view(b, t, heads * e)


class _LinearAttention(torch.autograd.Function):
    """Per-head kernel attention on heads laid side by side in the last dimension.

    Each head is a strided column block of the (B, T, H·F) inputs, which batched matrix
    products read (and write) in place, so the heads are never transposed out and back (on
    CPU those copies, and autograd's zero-filled buffers for sliced views, cost as much as the
    arithmetic); the element-wise parts run on all heads at once. The features are
    φ = q + c and φ_k = k + c for a constant c (1 for elu+1): the shift is folded into the
    sums (Σ (k + c) vᵀ = kᵀv + c 1 Σ vᵀ, ...) instead of costing a pass over the inputs.
    Forward and backward are written out, per head, with q, k standing for the features:

        S = kᵀv,  z = Σ_t k_t,  [n | d] = q [S | z],  r = 1 / d,  y = n r
        dnum = g r,  dden = -(g · y) r
        dq = [dnum | dden] [S | z]ᵀ,  [dS | dz] = qᵀ [dnum | dden],  dk = v dSᵀ + 1 dzᵀ,  dv = k dS

    The normaliser rides along as an extra column of the state (and of the output gradient),
    so q·z and qᵀ dden cost no (B, T, H, F) temporaries and no passes of their own: at long
    lengths these tensors no longer fit in cache and every pass over them counts.
    (A block-diagonal (H·F x H·E) product over all heads at once avoids the loop but costs
    H times the flops; it measured slower, clearly so for the performer's wider features.)
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, heads: int, shift: float, eps: float) -> Tensor:
        b, t, _ = q.shape
        f, e = q.shape[-1] // heads, v.shape[-1] // heads
        ksum = k.sum(1).add_(shift * t).view(b, heads, f, 1)  # z = Σ_t φ(k_t) of every head
        vsum = v.sum(1).view(b, heads, 1, e) * shift
        state = torch.empty(heads, b, f, e + 1, dtype=v.dtype, device=v.device)  # [S | z] per head
        num = torch.empty(heads, b, t, e + 1, dtype=v.dtype, device=v.device)  # [φ(q) S | φ(q)·z] per head
        for h in range(heads):  # products write whole contiguous tensors (a strided out= is a loop over the batch)
            qh, kh, vh = q[..., h * f:(h + 1) * f], k[..., h * f:(h + 1) * f], v[..., h * e:(h + 1) * e]
            state[h, :, :, :e] = torch.baddbmm(vsum[:, h], kh.transpose(1, 2), vh)  # Σ φ(k) vᵀ
            state[h, :, :, e:] = ksum[:, h]
            torch.baddbmm(state[h].sum(1, keepdim=True) * shift, qh, state[h], out=num[h])
        rden = num[..., e].clamp_(min=eps).reciprocal_()  # (H, B, T)
        y = torch.empty(b, t, heads, e, dtype=v.dtype, device=v.device)
        torch.mul(num[..., :e].permute(1, 2, 0, 3), rden.permute(1, 2, 0).unsqueeze(-1), out=y)
        y = y.view(b, t, heads * e)
        ctx.save_for_backward(q, k, v, y, state, rden)
        ctx.heads, ctx.shift = heads, shift
        return y

    @staticmethod
    def backward(ctx, grad: Tensor):
        q, k, v, y, state, rden = ctx.saved_tensors
        heads, shift = ctx.heads, ctx.shift
        b, t, _ = q.shape
        f, e = q.shape[-1] // heads, v.shape[-1] // heads
        g = grad.reshape(b, t, heads, e).permute(2, 0, 1, 3)  # (H, B, T, E) view
        dext = torch.empty(heads, b, t, e + 1, dtype=v.dtype, device=v.device)  # [dnum | dden] per head
        torch.mul(g, rden.unsqueeze(-1), out=dext[..., :e])
        torch.linalg.vecdot(g, y.view(b, t, heads, e).permute(2, 0, 1, 3), out=dext[..., e]).mul_(rden).neg_()
        dext_sum = dext.sum(2, keepdim=True).mul_(shift)  # (H, B, 1, E + 1)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        for h in range(heads):
            fs, es = slice(h * f, (h + 1) * f), slice(h * e, (h + 1) * e)
            dq[..., fs] = torch.bmm(dext[h], state[h].transpose(1, 2))
            dstate = torch.baddbmm(dext_sum[h], q[..., fs].transpose(1, 2), dext[h])  # [dS | dz] = φ(q)ᵀ [dnum | dden]
            ds = dstate[..., :e]
            dk[..., fs] = torch.baddbmm(dstate[..., e].unsqueeze(1), v[..., es], ds.transpose(1, 2))
            dv[..., es] = torch.baddbmm(ds.sum(1, keepdim=True) * shift, k[..., fs], ds)  # φ(k) dS
        return dq, dk, dv, None, None, None


def no_padding(mask: Tensor) -> bool:
    """True when the batch has no padding, so a mixer may skip its masking. Never while traced
    or exported: the answer would be frozen into the graph, so the masked path is recorded."""
    return not tracing() and bool(mask.all())


def linear_attention(q: Tensor, k: Tensor, v: Tensor, heads: int, shift: float = 0.0, eps: float = 1e-6) -> Tensor:
    """y_t = Σ_s (φ_t·κ_s) v_s / Σ_s φ_t·κ_s over all s, per head, with features φ = q + shift
    and κ = k + shift (q, k (B, T, H·F); non-negative features), values v (B, T, H·E), heads
    side by side -> (B, T, H·E). A padded key needs κ = 0, i.e. k = -shift. O(T F E).

    While traced or exported the same forward runs as plain torch ops (a graph cannot hold
    the Python autograd.Function with its hand-written backward).
    """
    if tracing():
        return _linear_attention_traceable(q, k, v, heads, shift, eps)
    return _LinearAttention.apply(q, k, v, heads, shift, eps)


def causal_linear_attention(q: Tensor, k: Tensor, v: Tensor, chunk: int = 64, eps: float = 1e-6) -> Tensor:
    """y_t = Σ_{s<=t} (q_t·k_s) v_s / Σ_{s<=t} q_t·k_s for non-negative features q, k
    (B, H, T, F) and values v (B, H, T, E).

    Exact: within a chunk of ``chunk`` positions a masked (C x C) product, across chunks the
    running sums of k_s v_sᵀ and k_s (one F x E state per chunk, never per position).
    Cost O(T C (F + E) + T F E).
    """
    b, h, t, f = q.shape
    e = v.shape[-1]
    c = min(chunk, t)
    pad = (-t) % c
    if pad:
        q, k, v = (torch.nn.functional.pad(z, (0, 0, 0, pad)) for z in (q, k, v))
    n = (t + pad) // c
    qc, kc, vc = q.reshape(b, h, n, c, f), k.reshape(b, h, n, c, f), v.reshape(b, h, n, c, e)
    tril = torch.ones(c, c, dtype=torch.bool, device=q.device).tril()
    scores = (qc @ kc.transpose(-1, -2)).masked_fill(~tril, 0.0)  # (B, H, n, C, C)
    state = _exclusive_cumsum(kc.transpose(-1, -2) @ vc, 2)  # (B, H, n, F, E) before each chunk
    kstate = _exclusive_cumsum(kc.sum(3), 2).unsqueeze(-1)  # (B, H, n, F, 1)
    out = scores @ vc + qc @ state
    denom = scores.sum(-1, keepdim=True) + qc @ kstate
    return (out / denom.clamp_min(eps)).reshape(b, h, n * c, e)[:, :, :t]


def causal_multi_query(q: Tensor, k: Tensor, v: Tensor, chunk: int = 64) -> Tensor:
    """y_{t,g} = Σ_{s<=t} (q_{t,g}·k_s) v_s for q (B, T, G, F), k (B, T, F), v (B, T, E) -> (B, T, G, E).

    The G query heads of a position share its keys and values, so the heads are folded into
    the rows of each chunk ((C·G) x C scores) instead of broadcasting keys to every head.
    """
    b, t, g, f = q.shape
    e = v.shape[-1]
    c = min(chunk, t)
    pad = (-t) % c
    if pad:
        q = torch.nn.functional.pad(q, (0, 0, 0, 0, 0, pad))
        k, v = (torch.nn.functional.pad(z, (0, 0, 0, pad)) for z in (k, v))
    n = (t + pad) // c
    qc = q.reshape(b, n, c * g, f)  # rows ordered (position, head)
    kc, vc = k.reshape(b, n, c, f), v.reshape(b, n, c, e)
    rows_see = torch.ones(c, c, dtype=torch.bool, device=q.device).tril().repeat_interleave(g, dim=0)
    scores = (qc @ kc.transpose(-1, -2)).masked_fill(~rows_see, 0.0)  # (B, n, C·G, C)
    state = _exclusive_cumsum(kc.transpose(-1, -2) @ vc, 1)  # (B, n, F, E) before each chunk
    out = scores @ vc + qc @ state
    return out.reshape(b, n * c, g, e)[:, :t]


def _exclusive_cumsum(z: Tensor, dim: int) -> Tensor:
    """Σ of the entries strictly before each index along ``dim`` (0 for the first)."""
    first = torch.zeros_like(z.narrow(dim, 0, 1))
    return torch.cat([first, z.narrow(dim, 0, z.shape[dim] - 1).cumsum(dim)], dim)
