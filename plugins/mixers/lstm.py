"""LSTM mixer over packed variable-length batches; returns the hidden state of every token.

Post: "Who's Afraid of the Recurrent Wolf?"
Paper: Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 9(8), 1997

The post found GRUs as good with fewer parameters; the LSTM is here to compare.

    i, f, g, o = σ/σ/tanh/σ(W x_t + U h_{t-1} + b)
    c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)

Packing, ``causal``/``bidirectional``/``reverse``, cost and the shape contract: ``_recurrent.py``.
"""
from __future__ import annotations

from torch import nn

from ._recurrent import PackedRecurrentMixer


class LSTMMixer(PackedRecurrentMixer):
    rnn_class = nn.LSTM
