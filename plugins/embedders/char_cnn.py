"""Character CNN embedder: one vector per word of any length, from its characters; no word
vocabulary, so unseen words, misspellings and new forms all get a vector.

Post: "Character-Based Neural Language Models". Paper: Kim, Jernite, Sontag, Rush,
"Character-Aware Neural Language Models", AAAI 2016 (arXiv:1508.06615), section 2.

For a word with characters c_1..c_n, wrapped in begin/end-of-word markers (see ``chars.py``
for how a character of any script becomes a row, without a learned vocabulary):

    C = [E c_0, ..., E c_{n+1}]                   (char_dim, n + 2), E: char embedding
    f_w[p] = tanh(<C[:, p : p + w], H_w> + b_w)     each filter bank of width w, p = 0..n+1
    y_w = max_p f_w[p]                            max over time, over real characters only
    y = W_proj [y_w1; y_w2; ...] + b              -> dim
    y = t * relu(W_H y + b_H) + (1 - t) * y,  t = sigmoid(W_T y + b_T)    (highway_layers)

Windows start at every real character and read zero-embedded padding past the word's end,
so a word's vector does not depend on the other words of the batch. A width-w bank has
min(filters_per_width * w, max_filters) filters (Kim's small model: 25 * w, widths 1..6).
Kim et al. apply the highway layers to the concatenated filter outputs (width F = 525 for
the small model, 2 F^2 parameters per layer); here they run after the projection to ``dim``
(2 dim^2 each), which keeps the embedder small on CPUs.

For speed on CPUs (the result is the same, a test checks it against ``F.conv1d``): each
distinct word of a batch goes through the CNN once; words are grouped by length so no
window needs masking; all widths run as one matrix product over the unfolded character
windows (narrower filters zero-padded to the widest; ``nn.Conv1d`` modules hold the
weights); the bias and tanh are applied after the max, with which they commute.
Shape contract: encode(list of B token lists) -> {"chars": (B, T, L) long (0: padding),
"mask": (B, T) bool}; forward -> (B, T, dim), zero at padding.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Embedder

from . import chars
from .configs import CharCNNConfig


class Highway(nn.Module):
    """Srivastava et al., "Training Very Deep Networks" (2015), as used by Kim et al."""

    def __init__(self, dim: int):
        super().__init__()
        self.transform = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)
        nn.init.constant_(self.gate.bias, -2.0)  # start close to carrying y through (Kim et al.)

    def forward(self, y: Tensor) -> Tensor:
        t = torch.sigmoid(self.gate(y))
        return t * F.relu(self.transform(y)) + (1 - t) * y


class CharCNNEmbedder(Embedder):
    def __init__(self, cfg: CharCNNConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.coder = chars.CharCoder(cfg.char_table, cfg.char_buckets, cfg.max_chars, markers=True,
                                     cache_size=cfg.cache_size)
        self.char_embed = nn.Embedding(chars.num_char_rows(cfg.char_table, cfg.char_buckets), cfg.char_dim,
                                       padding_idx=chars.PAD)
        self.widths = list(cfg.widths)
        self.convs = nn.ModuleList(
            nn.Conv1d(cfg.char_dim, min(cfg.filters_per_width * w, cfg.max_filters), kernel_size=w)
            for w in self.widths)
        total = sum(c.out_channels for c in self.convs)
        self.proj = nn.Linear(total, cfg.dim)
        self.highways = nn.ModuleList(Highway(cfg.dim) for _ in range(cfg.highway_layers))

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        return self.coder.encode(batch)

    def filter_bank(self) -> tuple[Tensor, Tensor]:
        """All filter banks as one (F, char_dim * widest) matrix: a width-w filter is
        zero-padded to the widest width, so one matrix product runs every width at once."""
        widest = max(self.widths)
        weight = torch.cat([F.pad(conv.weight, (0, widest - conv.kernel_size[0])) for conv in self.convs])
        return weight.flatten(1), torch.cat([conv.bias for conv in self.convs])

    def words(self, char_ids: Tensor) -> Tensor:
        """(N, L) character rows of N words -> (N, dim) word vectors."""
        widest = max(self.widths)
        weight, bias = self.filter_bank()
        lengths = (char_ids != chars.PAD).sum(1)
        order = torch.argsort(lengths)
        sizes, counts = torch.unique_consecutive(lengths[order], return_counts=True)
        pooled = []
        # words of one length at a time: no window starts on padding, so nothing to mask
        for n, group in zip(sizes.tolist(), torch.split(order, counts.tolist())):
            x = F.pad(self.char_embed(char_ids[group, :n]), (0, 0, 0, widest - 1))  # (G, n + widest - 1, c)
            windows = x.unfold(1, widest, 1).reshape(len(group), n, -1)  # the window at each position
            pooled.append((windows @ weight.t()).max(dim=1).values)  # conv1d of every width, max over time
        y = torch.cat(pooled).index_select(0, torch.argsort(order)) if pooled else weight.new_zeros(0, len(bias))
        y = torch.tanh(y + bias)  # the bias and the monotonic tanh commute with the max
        y = self.proj(y)
        for highway in self.highways:
            y = highway(y)
        return y

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return chars.embed_distinct(inputs["chars"], inputs["mask"], self.words, self.dim)
