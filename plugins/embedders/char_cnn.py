"""Character CNN embedder: one vector per word of any length, from its characters; no word
vocabulary, so unseen words, misspellings and new forms all get a vector.

Post: "Character-Based Neural Language Models".
Paper: Kim, Jernite, Sontag, Rush, "Character-Aware Neural Language Models", AAAI 2016
(arXiv:1508.06615), section 2.

For a word with characters c_1..c_n, wrapped in begin/end-of-word markers (see ``chars.py``
for how a character of any script becomes a row, without a learned vocabulary), l = n + 2:

    C = [E c_0, ..., E c_{n+1}]                   (char_dim, l), E: char embedding
    f_w[p] = tanh(<C[:, p : p + w], H_w> + b_w)     each filter bank of width w, p = 0..l-w
    y_w = max_p f_w[p]                            max over time
    y = [y_w1; y_w2; ...]                         (F = the filters of all widths)
    y = t * relu(W_H y + b_H) + (1 - t) * y,  t = sigmoid(W_T y + b_T)    (highway_layers, width F)
    out = W_proj y + b                            -> dim

Narrow convolution, as the paper: a window lies inside the word, so it never reads padding
past the word's end and a word's vector does not depend on the other words of the batch.
A word shorter than a filter (l < w) gets that filter's one window, zero-padded to w.
A width-w bank has min(filters_per_width * w, max_filters) filters (Kim's small model:
25 * w, widths 1..6, F = 525). The highway layers run on the concatenated filter outputs
(width F, 2 F² parameters each, the paper); ``highway_on=projection`` runs them after the
projection to ``dim`` instead (2 dim² each: far fewer parameters on CPUs, not the paper).

For speed on CPUs (the result is the same, a test checks it against a per-word loop): each
distinct word of a batch goes through the CNN once; words are grouped by length; all widths
run as one matrix product over the unfolded character windows (narrower filters
zero-padded to the widest; ``nn.Conv1d`` modules hold the weights), windows that would
cross the word's end masked out before the max per width; the bias and tanh are applied
after the max, with which they commute.
Shape contract: encode(list of B token lists) -> {"chars": (B, T, L) long (0: padding),
"mask": (B, T) bool}; forward -> (B, T, dim), zero at padding.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Embedder

from . import chars


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
    def __init__(self, dim: int, char_table: int = 2048, char_buckets: int = 1024, max_chars: int = 32,
                 cache_size: int = 1_000_000, char_dim: int = 15, widths: list[int] = (1, 2, 3, 4, 5, 6),
                 filters_per_width: int = 25, max_filters: int = 200, highway_layers: int = 1,
                 highway_on: str = "filters"):
        super().__init__()
        if any(w <= 0 for w in widths) or not widths:
            raise ValueError(f"widths={list(widths)}: every filter width must be a positive number of characters")
        if highway_on not in ("filters", "projection"):
            raise ValueError(f"highway_on={highway_on!r}: use 'filters' (the paper) or 'projection'")
        self.dim, self.char_dim, self.highway_on = dim, char_dim, highway_on
        self.coder = chars.CharCoder(char_table, char_buckets, max_chars, markers=True, cache_size=cache_size)
        self.char_embed = nn.Embedding(chars.num_char_rows(char_table, char_buckets), char_dim, padding_idx=chars.PAD)
        self.widths = list(widths)
        self.convs = nn.ModuleList(
            nn.Conv1d(char_dim, min(filters_per_width * w, max_filters), kernel_size=w) for w in self.widths)
        total = sum(c.out_channels for c in self.convs)
        self.proj = nn.Linear(total, dim)
        self.highways = nn.ModuleList(Highway(total if highway_on == "filters" else dim)
                                      for _ in range(highway_layers))
        self.register_buffer("filter_width", torch.cat([torch.full((c.out_channels,), w) for w, c in
                                                        zip(self.widths, self.convs)]), persistent=False)


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
        # words of one length at a time: one mask of the windows that cross the word's end
        for n, group in zip(sizes.tolist(), torch.split(order, counts.tolist())):
            x = F.pad(self.char_embed(char_ids[group, :n]), (0, 0, 0, widest - 1))  # (G, n + widest - 1, c)
            windows = x.unfold(1, widest, 1).reshape(len(group), n, -1)  # the window at each position
            starts = torch.arange(n, device=x.device).unsqueeze(1)
            inside = (starts + self.filter_width <= n) | (starts == 0)  # (n, F): narrow convolution
            scores = (windows @ weight.t()).masked_fill(~inside, float("-inf"))
            pooled.append(scores.max(dim=1).values)  # conv1d of every width, max over time
        y = torch.cat(pooled).index_select(0, torch.argsort(order)) if pooled else weight.new_zeros(0, len(bias))
        y = torch.tanh(y + bias)  # the bias and the monotonic tanh commute with the max
        if self.highway_on == "filters":
            for highway in self.highways:
                y = highway(y)
            return self.proj(y)
        y = self.proj(y)
        for highway in self.highways:
            y = highway(y)
        return y

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return chars.embed_distinct(inputs["chars"], inputs["mask"], self.words, self.dim)
