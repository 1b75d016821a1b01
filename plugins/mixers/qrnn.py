"""Quasi-recurrent neural network layer: masked-convolution gates + fo-pooling.

Post: "Causal Convolution (1d)" (QRNNs need the masked convolution; "all other required
tensor operations for QRNNs are provided by PyTorch").
Paper: Bradbury, Merity, Xiong, Socher, "Quasi-Recurrent Neural Networks", ICLR 2017,
arXiv:1611.01576, section 2, eqs. (1)-(4) (fo-pooling) and 2.1 (zoneout).

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
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from .causal_conv import masked_conv1d
from .configs import QRNNConfig


def linear_scan(a: Tensor, b: Tensor) -> Tensor:
    """c_t = a_t c_{t-1} + b_t along dim 1 with c_{-1} = 0, for a, b (B, T, ...).

    Odd/even reduction: pairing steps (2i, 2i+1) gives a scan of half the length with
    a' = a_{2i+1} a_{2i}, b' = a_{2i+1} b_{2i} + b_{2i+1}, whose result is c at the odd
    steps; the even steps follow as c_{2i} = a_{2i} c_{2i-1} + b_{2i}.
    """
    t = a.shape[1]
    if t == 1:
        return b
    a_even, a_odd = a[:, 0::2], a[:, 1::2]
    b_even, b_odd = b[:, 0::2], b[:, 1::2]
    n_odd = a_odd.shape[1]
    c_odd = linear_scan(a_odd * a_even[:, :n_odd], torch.addcmul(b_odd, a_odd, b_even[:, :n_odd]))
    # c_{2i} = a_{2i} c_{2i-1} + b_{2i}; c_{-1} = 0
    c_even = torch.cat([b_even[:, :1], torch.addcmul(b_even[:, 1:], a_even[:, 1:], c_odd[:, : a_even.shape[1] - 1])], 1)
    out = torch.stack([c_even[:, :n_odd], c_odd], dim=2).flatten(1, 2)
    return torch.cat([out, c_even[:, n_odd:]], 1) if t % 2 else out


class QRNNMixer(Mixer):
    def __init__(self, cfg: QRNNConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.gates = nn.Conv1d(cfg.dim, 3 * cfg.dim, cfg.kernel_size)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        z, f, o = masked_conv1d(self.gates, x, mask, self.cfg.causal).chunk(3, dim=-1)
        z, f, o = torch.tanh(z), torch.sigmoid(f), torch.sigmoid(o)
        if self.training and self.cfg.zoneout > 0:
            keep = torch.rand_like(f) < self.cfg.zoneout
            f = f.masked_fill(keep, 1.0)
        valid = mask.unsqueeze(-1)
        a = f.masked_fill(~valid, 1.0)
        b = ((1 - f) * z).masked_fill(~valid, 0.0)
        return o * linear_scan(a, b)
