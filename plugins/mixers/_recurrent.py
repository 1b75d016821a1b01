"""The packed recurrent mixer behind ``gru`` and ``lstm`` (not a component): the two differ
only in their ``torch.nn`` recurrent class, which each method file names.

Post: "Who's Afraid of the Recurrent Wolf?" (pack the padded batch so PyTorch runs each
sequence only over its real tokens, in parallel, then undo the sorting so the states come
back in the original order; reading right to left boosted a suffix-heavy task).

    causal (default): left to right, so h_t depends on tokens <= t
    bidirectional: [h_fwd_t ; h_bwd_t] with dim/2 units per direction
    reverse: right to left only (each sequence reversed within its own length)

``pack_padded_sequence(enforce_sorted=False)`` sorts by length internally and
``pad_packed_sequence`` restores the original order, so outputs line up with the inputs.
Real tokens need not come first: a batch with padding elsewhere is compacted (real tokens
moved to the front, stably) and scattered back. Padded outputs are 0.
Cost O(T dim²) in T sequential steps: linear in length, but not parallel over time.

Shape contract: (B, T, dim), mask (B, T) bool, True at real tokens -> (B, T, dim).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo_core.interfaces import Mixer

from ._common import compact, restore
from .configs import check_recurrent


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each right-padded sequence's first ``length`` steps; padding stays in place."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    index = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class PackedRecurrentMixer(Mixer):
    rnn_class: type[nn.RNNBase]  # nn.GRU, nn.LSTM: set by each method's subclass

    def __init__(self, *, dim: int = 64, layers: int = 1, causal: bool = True, bidirectional: bool = False,
                 reverse: bool = False):
        super().__init__()
        check_recurrent(dim, causal, bidirectional, reverse)
        self.dim, self.causal, self.reverse = dim, causal, reverse
        hidden = dim // 2 if bidirectional else dim
        self.rnn = self.rnn_class(dim, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        t = x.shape[1]
        xc, lengths, order = compact(x, mask)
        if self.reverse:
            xc = reverse_within_lengths(xc, lengths)
        if bool((lengths == t).all()):
            out, _ = self.rnn(xc)
        else:
            packed = pack_padded_sequence(xc, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
        if self.reverse:
            out = reverse_within_lengths(out, lengths)
        return restore(out, order)
