"""The sinusoidal position table of Vaswani et al. ("Attention Is All You Need", NeurIPS 2017,
section 3.5), written once: the composer's ``pos=sinusoidal``, the ``char_pos`` embedder
(positions of the characters in a word) and any mixer that needs positions use it.

    P(i, 2k)     = sin(i / base^(2k / dim))
    P(i, 2k + 1) = cos(i / base^(2k / dim))          for i = start .. start + length - 1
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def sinusoids(length: int, dim: int, base: float = 10000.0, start: int = 0, device=None, dtype=None) -> Tensor:
    """(length, dim) sin/cos table of positions ``start .. start + length - 1``, any length and dim
    (an odd dim drops the last cosine); computed in float32, returned in ``dtype`` (default: torch's)."""
    pos = torch.arange(start, start + length, device=device, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(base) / dim))
    table = torch.zeros(length, dim, device=device, dtype=torch.float32)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return table.to(dtype or torch.get_default_dtype())
