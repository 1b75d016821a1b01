"""Linear attention with the elu+1 feature map (Katharopoulos et al.).

Posts: "Let's Make AI Green (Again)"; "N Layers is All We Need?"
Paper: Katharopoulos, Vyas, Pappas, Fleuret, "Transformers are RNNs: Fast Autoregressive
Transformers with Linear Attention", ICML 2020, arXiv:2006.16236, eqs. 4-6 and 8-12

In the first post linear attention beat HyperMixer in loss and CPU time on its NLP tasks.

    φ(x) = elu(x) + 1                                     (a positive feature map)
    y_i = φ(q_i)ᵀ Σ_j φ(k_j) v_jᵀ  /  φ(q_i)ᵀ Σ_j φ(k_j)     per head, j over real tokens
    causal:  the sums run over j <= i (prefix sums S_i, Z_i of eq. 10-11), computed in
             chunks so no (T, d, d) state is materialised.
    Y = concat(heads) W_o

Cost O(T d²) time and O(d²) state per head instead of attention's O(T² d).
Padding: φ(k_j) is zeroed at padded j, so padded tokens enter neither sum.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.config import heads_divide_dim
from zoo_core.interfaces import Mixer

from ._common import causal_linear_attention, linear_attention, no_padding


def elu_feature_map(x: Tensor) -> Tensor:
    return F.elu(x).add_(1.0)  # in place: elu's backward reads its input, not this output


class LinearAttentionMixer(Mixer):
    def __init__(self, *, dim: int = 64, heads: int = 4, causal: bool = False):
        super().__init__()
        heads_divide_dim(dim, heads)
        self.dim, self.heads, self.causal = dim, heads, causal
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        # φ on contiguous (B, T, dim) tensors: elu's backward is several times slower on permuted views
        v = self.to_v(x)
        padded = None if no_padding(mask) else ~mask.unsqueeze(-1)
        if self.causal:
            q, k = elu_feature_map(self.to_q(x)), elu_feature_map(self.to_k(x))
            if padded is not None:
                k = k.masked_fill(padded, 0.0)
            q, k, v = (rearrange(z, "b t (h d) -> b h t d", h=self.heads) for z in (q, k, v))
            y = rearrange(causal_linear_attention(q, k, v), "b h t d -> b t (h d)")
        else:
            # φ = elu + 1 with the +1 folded into the kernel's sums: φ(k) = 0 at padding means elu(k) = -1,
            # and v = 0 there too, so that kᵀv + 1 Σ vᵀ cancels padded values exactly, not up to rounding
            q, k = F.elu(self.to_q(x)), F.elu(self.to_k(x))
            if padded is not None:
                k, v = k.masked_fill(padded, -1.0), v.masked_fill(padded, 0.0)
            y = linear_attention(q, k, v, self.heads, shift=1.0)
        return self.out(y)
