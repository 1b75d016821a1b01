"""Packed-sequence machinery shared by the ``gru`` and ``lstm`` mixers (not a component).

Post: "Who's Afraid of the Recurrent Wolf?" (pack the padded batch so PyTorch runs each
sequence only over its real tokens, in parallel, then undo the sorting so the states come
back in the original order).

``pack_padded_sequence(enforce_sorted=False)`` sorts by length internally and
``pad_packed_sequence`` restores the original order, so outputs line up with the inputs.
Real tokens need not come first: a batch with padding elsewhere is compacted (real tokens
moved to the front, stably) and scattered back. Padded outputs are 0.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo_core.interfaces import Mixer

from ._common import compact, restore
from .configs import RecurrentConfig


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each right-padded sequence's first ``length`` steps; padding stays in place."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    index = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class PackedRecurrentMixer(Mixer):
    rnn_class: type[nn.RNNBase]

    def __init__(self, cfg: RecurrentConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        hidden = cfg.dim // 2 if cfg.bidirectional else cfg.dim
        self.rnn = self.rnn_class(cfg.dim, hidden, num_layers=cfg.layers, batch_first=True,
                                  bidirectional=cfg.bidirectional)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        t = x.shape[1]
        xc, lengths, order = compact(x, mask)
        if self.cfg.reverse:
            xc = reverse_within_lengths(xc, lengths)
        if bool((lengths == t).all()):
            out, _ = self.rnn(xc)
        else:
            packed = pack_padded_sequence(xc, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
        if self.cfg.reverse:
            out = reverse_within_lengths(out, lengths)
        return restore(out, order)
