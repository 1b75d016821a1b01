"""Quasi-recurrent neural network layer: masked-convolution gates + fo-pooling.

Post: "Causal Convolution (1d)"
Paper: Bradbury, Merity, Xiong, Socher, "Quasi-Recurrent Neural Networks", ICLR 2017,
arXiv:1611.01576, section 2, eqs. (1)-(4) (fo-pooling) and 2.1 (zoneout)

The post: QRNNs need the masked convolution; "all other required tensor operations for
QRNNs are provided by PyTorch".

    Z = tanh(W_z * X),  F = σ(W_f * X),  O = σ(W_o * X)     * = masked (causal) convolution
    F = 1 - zoneout(1 - F)                                   training only: f forced to 1 w.p. p
    c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ z_t                   fo-pooling, c_{-1} = 0
    h_t = o_t ⊙ c_t

The recurrence is linear in c, so it is computed as a parallel scan (odd/even reduction:
log2 T vectorised levels, O(T) work, only products of gates <= 1, so it is stable) instead
of a Python loop over T. At padded positions f = 1 and z is ignored, so the cell carries
through padding unchanged and padded inputs (zeroed before the convolution) never reach a
real output. causal=false centres the convolution (the gates then see (k-1)/2 future
tokens; the pooling still runs left to right). Cost O(T k dim²): linear in length.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo_core.interfaces import Mixer

from .causal_conv import masked_conv1d
from .configs import check_conv


SCAN_BLOCK = 256  # time steps per cache-resident block of the scan


def _scan(a: Tensor, b: Tensor, reverse: bool = False, block: int | None = None) -> Tensor:
    """c_t = a_t c_{t-1} + b_t along dim 1 with c_{-1} = 0 (``reverse``: c_t = a_t c_{t+1} + b_t,
    c_T = 0), in blocks of ``block`` steps.

    Blocks keep each reduction's working set in cache (on long sequences the whole-tensor
    reduction is memory-bound) and make reversing cheap (block by block); the last state of
    a block enters the next one through its first step: b'_s = b_s + a_s c_{s-1}. Exact,
    and still O(T) work.
    """
    t, block = a.shape[1], block or SCAN_BLOCK
    c = torch.empty_like(b)
    carry = None
    starts = range(0, t, block)
    for start in reversed(starts) if reverse else starts:
        a_blk, b_blk = a[:, start:start + block], b[:, start:start + block]
        if reverse:
            a_blk, b_blk = a_blk.flip(1), b_blk.flip(1)
        elif carry is not None:
            b_blk = b_blk.clone()
        if carry is not None:
            b_blk[:, 0].addcmul_(a_blk[:, 0], carry)
        c_blk = _scan_block(a_blk, b_blk)
        carry = c_blk[:, -1]
        c[:, start:start + block] = c_blk.flip(1) if reverse else c_blk
    return c


def _scan_block(a: Tensor, b: Tensor) -> Tensor:
    """c_t = a_t c_{t-1} + b_t along dim 1 with c_{-1} = 0 (no autograd bookkeeping needed).

    Odd/even reduction: pairing steps (2i, 2i+1) gives a scan of half the length with
    a' = a_{2i+1} a_{2i}, b' = a_{2i+1} b_{2i} + b_{2i+1}, whose result is c at the odd
    steps; the even steps follow as c_{2i} = a_{2i} c_{2i-1} + b_{2i}.
    """
    t = a.shape[1]
    if t == 1:
        return b.clone()
    a_even, a_odd = a[:, 0::2], a[:, 1::2]
    b_even, b_odd = b[:, 0::2], b[:, 1::2]
    n_odd = a_odd.shape[1]
    c_odd = _scan_block(a_odd * a_even[:, :n_odd], torch.addcmul(b_odd, a_odd, b_even[:, :n_odd]))
    c = torch.empty_like(b)
    c[:, 1::2] = c_odd
    c[:, 0] = b[:, 0]
    c_even = c[:, 2::2]  # c_{2i} = a_{2i} c_{2i-1} + b_{2i} for i >= 1, written in place
    torch.addcmul(b_even[:, 1:], a_even[:, 1:], c_odd[:, : c_even.shape[1]], out=c_even)
    return c


class _LinearScan(torch.autograd.Function):
    """Gradients of the scan are a scan too, run backwards in time:
    g_t = ∂L/∂c_t + a_{t+1} g_{t+1};  ∂L/∂b_t = g_t;  ∂L/∂a_t = g_t c_{t-1}."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        c = _scan(a, b)
        ctx.save_for_backward(a, c)
        return c

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor]:
        a, c = ctx.saved_tensors
        a_next = torch.empty_like(a)
        a_next[:, :-1] = a[:, 1:]
        a_next[:, -1] = 0
        g = _scan(a_next, grad.contiguous(), reverse=True)
        grad_a = torch.empty_like(a)
        grad_a[:, 0] = 0
        torch.mul(g[:, 1:], c[:, :-1], out=grad_a[:, 1:])
        return grad_a, g


def linear_scan(a: Tensor, b: Tensor) -> Tensor:
    """c_t = a_t c_{t-1} + b_t along dim 1 with c_{-1} = 0, for a, b (B, T, ...):
    O(T) work in log2(T) vectorised steps, with a hand-written (scan) backward."""
    return _LinearScan.apply(a, b)


class QRNNMixer(Mixer):
    def __init__(self, *, dim: int = 64, kernel_size: int = 2, causal: bool = True, zoneout: float = 0.0):
        super().__init__()
        check_conv(dim, kernel_size, 1, 1, causal, what="gate convolution")
        self.dim, self.causal, self.zoneout = dim, causal, zoneout
        self.gates = nn.Conv1d(dim, 3 * dim, kernel_size)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        z, f, o = masked_conv1d(self.gates, x, mask, self.causal).chunk(3, dim=-1)
        z, f, o = torch.tanh(z), torch.sigmoid(f), torch.sigmoid(o)
        if self.training and self.zoneout > 0:
            keep = torch.rand_like(f) < self.zoneout
            f = f.masked_fill(keep, 1.0)
        valid = mask.unsqueeze(-1)
        a = f.masked_fill(~valid, 1.0)
        b = ((1 - f) * z).masked_fill(~valid, 0.0)
        return o * linear_scan(a, b)
