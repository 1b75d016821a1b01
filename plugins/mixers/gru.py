"""GRU mixer over packed variable-length batches; returns the hidden state of every token.

Post: "Who's Afraid of the Recurrent Wolf?" (packed batches that return states in the
original order; GRUs have fewer parameters than LSTMs and are often not inferior, the post's choice.
Reading right to left boosted a suffix-heavy task: ``reverse=true``.)
Paper: Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
Machine Translation", EMNLP 2014, arXiv:1406.1078 (the gated recurrent unit).

    r_t = σ(W_r x_t + U_r h_{t-1}),  u_t = σ(W_u x_t + U_u h_{t-1})
    n_t = tanh(W_n x_t + r_t ⊙ (U_n h_{t-1}))
    h_t = (1 - u_t) ⊙ n_t + u_t ⊙ h_{t-1}

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
from .configs import GRUConfig


class GRUMixer(PackedRecurrentMixer):
    rnn_class = nn.GRU

    def __init__(self, cfg: GRUConfig):
        super().__init__(cfg)
