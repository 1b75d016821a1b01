"""GRU mixer over packed variable-length batches; returns the hidden state of every token.

Post: "Who's Afraid of the Recurrent Wolf?"
Paper: Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
Machine Translation", EMNLP 2014, arXiv:1406.1078 (the gated recurrent unit)

The post's choice: GRUs have fewer parameters than LSTMs and are often not inferior.

    r_t = σ(W_r x_t + U_r h_{t-1}),  u_t = σ(W_u x_t + U_u h_{t-1})
    n_t = tanh(W_n x_t + r_t ⊙ (U_n h_{t-1}))
    h_t = (1 - u_t) ⊙ n_t + u_t ⊙ h_{t-1}

Packing, ``causal``/``bidirectional``/``reverse``, cost and the shape contract: ``_recurrent.py``.
"""
from __future__ import annotations

from torch import nn

from ._recurrent import PackedRecurrentMixer


class GRUMixer(PackedRecurrentMixer):
    rnn_class = nn.GRU
