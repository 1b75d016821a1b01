"""Causal (masked) 1D convolution over the tokens.

Post: "Causal Convolution (1d)"
Papers: Bradbury et al., "Quasi-Recurrent Neural Networks", arXiv:1611.01576, section 2;
van den Oord et al., "Pixel Recurrent Neural Networks", arXiv:1601.06759 (masked convolutions)

The post pads the input on the left by dilation*(kernel_size-1) and crops, so the filter only
looks left: token t never sees t+1 (the QRNN paper's "masked convolution": "padding the input
to the left by the convolution's filter size minus one").

    y_t = b + Σ_{j=0}^{k-1} W_j x_{t - dilation·(k-1-j)}      causal: left padding only
    y_t = b + Σ_{j=0}^{k-1} W_j x_{t + dilation·(j - (k-1)/2)} causal=false: centred ('same')

Padding is applied exactly once, on the left, so no right-hand cropping is needed (the
post's snippet pads both sides and crops). Padded tokens are zeroed first: a real output
whose window reaches past the end of its sequence sees zeros there, as it would alone.
Cost O(T k dim²/groups): linear in length.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from .configs import check_conv


def masked_conv1d(conv: nn.Conv1d, x: Tensor, mask: Tensor, causal: bool) -> Tensor:
    """Apply ``conv`` (created without padding) along the tokens of x (B, T, C) -> (B, T, C_out)."""
    span = conv.dilation[0] * (conv.kernel_size[0] - 1)
    left, right = (span, 0) if causal else (span // 2, span - span // 2)
    x = (x * mask.unsqueeze(-1).to(x.dtype)).transpose(1, 2)  # (B, C, T)
    return conv(F.pad(x, (left, right))).transpose(1, 2)


class CausalConvMixer(Mixer):
    def __init__(self, *, dim: int = 64, kernel_size: int = 3, dilation: int = 1, groups: int = 1,
                 causal: bool = True):
        super().__init__()
        check_conv(dim, kernel_size, dilation, groups, causal)
        self.dim, self.causal = dim, causal
        self.conv = nn.Conv1d(dim, dim, kernel_size, dilation=dilation, groups=groups)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return masked_conv1d(self.conv, x, mask, self.causal)
