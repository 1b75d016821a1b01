"""FNet: the real part of a 2D discrete Fourier transform mixes the tokens (no parameters).

Post: "Token Interactions: Mixing, Lambda and Attention"
Paper: Lee-Thorp, Ainslie, Eckstein, Ontañón, "FNet: Mixing Tokens with Fourier
Transforms", NAACL 2022, arXiv:2105.03824, section 3.2, eq. (3)

The post: attention replaced by Fourier transforms for speed, one of the "mixing functions"
instead of attention.

    y = Re( F_seq( F_hidden(x) ) )          = Re(torch.fft.fft2(x, dim=(T, D)))

Padding (a documented choice): the transform of each sequence runs over its own real
tokens only, i.e. a DFT of length L_b (the sequence's length), exactly as if the sequence
were fed alone and unpadded. Zeroing the padded inputs and transforming the padded length
would also hide the padded values, but then a sequence's output would change with the
length of the longest sequence in its batch. Sequences are grouped by length (one FFT call
per distinct length; an unpadded batch is one call); padded outputs are 0.
Cost O(T D (log T + log D)), no parameters.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import torch
from torch import Tensor

from zoo_core.interfaces import Mixer

from ._common import compact, restore


def fourier_mix(x: Tensor) -> Tensor:
    """Re(FFT2) over the (token, hidden) axes of an unpadded (B, T, D) batch."""
    return torch.fft.fft2(x, dim=(-2, -1)).real


class FNetMixer(Mixer):
    def __init__(self, *, dim: int = 64):
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        t = x.shape[1]
        xc, lengths, order = compact(x, mask)
        if bool((lengths == t).all()):
            return restore(fourier_mix(xc), order)
        out = torch.zeros_like(xc)
        for length in torch.unique(lengths).tolist():
            rows = (lengths == length).nonzero().squeeze(1)
            out[rows, :length] = fourier_mix(xc[rows, :length])
        return restore(out, order)
