"""Character-level positional encoding: a word is the sum of its characters, each multiplied
by a sinusoidal code of its position, so words that share characters at the same places
(spelling variants, inflections, typos) land close together; no word vocabulary.

Post: "Character-Level Positional Encoding"
Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.5: the sinusoidal
position code (``zoo_core.positions.sinusoids``), here applied to the characters of one word
instead of the words of a sentence

For a word with characters c_1..c_n (see ``chars.py`` for how a character of any script
becomes a row, without a learned vocabulary):

    P(i, 2k)     = sin(i / base^(2k / dim))
    P(i, 2k + 1) = cos(i / base^(2k / dim))
    v = sum_{i=1..n} E[c_i] * P(i)                 element-wise product, E: (rows, dim)

Positions count from 1, so the first character's sine dimensions are not zeroed by sin(0).
The post's snippet alternates sin and cos by position (its ``else`` is missing); this uses
Vaswani's layout, alternating by dimension. ``base`` defaults to 100 instead of 10000
because words are tens of characters long, not thousands of tokens: at dim=64 the
wavelengths run from 6 to 47,000 positions with 10000 (half of them over 600, nearly
constant along any word) and from 6 to 550 with 100. The codes are computed for any length
(the post's lookup table stops at the longest training word).

Shape contract: encode(list of B token lists) -> {"chars": (B, T, L) long (0: padding),
"mask": (B, T) bool}; forward -> (B, T, dim), zero at padding (the padding row of E is 0).
Each distinct word of a batch is computed once.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo_core.interfaces import Embedder
from zoo_core.positions import sinusoids

from . import chars


def position_codes(length: int, dim: int, base: float) -> Tensor:
    """(length, dim) sinusoidal codes of positions 1..length."""
    return sinusoids(length, dim, base=base, start=1)


class CharPosEmbedder(Embedder):
    def __init__(self, *, dim: int = 64, char_table: int = 2048, char_buckets: int = 1024, max_chars: int = 32,
                 cache_size: int = 1_000_000, base: float = 100.0):
        super().__init__()
        self.dim, self.base = dim, base
        self.coder = chars.CharCoder(char_table, char_buckets, max_chars, markers=False, cache_size=cache_size)
        self.char_embed = nn.Embedding(chars.num_char_rows(char_table, char_buckets), dim, padding_idx=chars.PAD)
        # Var(v) = n * std^2 * E[P^2] = n * std^2 / 2: an 8-character word starts near unit variance
        nn.init.normal_(self.char_embed.weight, std=0.5)
        with torch.no_grad():
            self.char_embed.weight[chars.PAD].zero_()
        self.register_buffer("codes", position_codes(max_chars, dim, base), persistent=False)

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        return self.coder.encode(batch)

    def words(self, char_ids: Tensor) -> Tensor:
        """(N, L) character rows of N words -> (N, dim)."""
        length = char_ids.shape[-1]
        codes = self.codes[:length] if length <= len(self.codes) else \
            position_codes(length, self.dim, self.base).to(self.codes.device)
        return (self.char_embed(char_ids) * codes.to(self.char_embed.weight.dtype)).sum(1)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return chars.embed_distinct(inputs["chars"], inputs["mask"], self.words, self.dim)
