"""LSTM mixer over packed variable-length batches; returns the hidden state of every token.

Post: "Who's Afraid of the Recurrent Wolf?" (packed batches that return states in the
original order; The post found GRUs as good with fewer parameters; the LSTM is here to compare.
Reading right to left boosted a suffix-heavy task: ``reverse=true``.)
Paper: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 9(8), 1997.

    i, f, g, o = σ/σ/tanh/σ(W x_t + U h_{t-1} + b)
    c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)

    causal (default): left to right, so h_t depends on tokens <= t
    bidirectional: [h_fwd_t ; h_bwd_t] with dim/2 units per direction
    reverse: right to left only (each sequence reversed within its own length)

Each sequence runs over its real tokens only (pack_padded_sequence, enforce_sorted=False);
states come back in the original batch order; padded outputs are 0.
Cost O(T dim²) in T sequential steps: linear in length, but not parallel over time.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

from torch import nn

from ._recurrent import PackedRecurrentMixer
from .configs import LSTMConfig


class LSTMMixer(PackedRecurrentMixer):
    rnn_class = nn.LSTM

    def __init__(self, cfg: LSTMConfig):
        super().__init__(cfg)
