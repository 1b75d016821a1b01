"""Character-level positional encoding: a word is the sum of its characters, each multiplied
by a sinusoidal code of its position, so words that share characters at the same places
(spelling variants, inflections, typos) land close together; no word vocabulary.

Post: "Character-Level Positional Encoding". Paper: the sinusoidal position code of Vaswani
et al., "Attention Is All You Need", NeurIPS 2017, section 3.5, applied to the characters of
one word instead of the words of a sentence.

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

import math

import torch
from torch import Tensor, nn

from zoo_core.interfaces import Embedder

from . import chars
from .configs import CharPosConfig


def position_codes(length: int, dim: int, base: float) -> Tensor:
    """(length, dim) sinusoidal codes of positions 1..length."""
    pos = torch.arange(1, length + 1, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(base) / dim))
    codes = torch.zeros(length, dim)
    codes[:, 0::2] = torch.sin(pos * freq)
    codes[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return codes


class CharPosEmbedder(Embedder):
    def __init__(self, cfg: CharPosConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.coder = chars.CharCoder(cfg.char_table, cfg.char_buckets, cfg.max_chars, markers=False,
                                     cache_size=cfg.cache_size)
        self.char_embed = nn.Embedding(chars.num_char_rows(cfg.char_table, cfg.char_buckets), cfg.dim,
                                       padding_idx=chars.PAD)
        # Var(v) = n * std^2 * E[P^2] = n * std^2 / 2: an 8-character word starts near unit variance
        nn.init.normal_(self.char_embed.weight, std=0.5)
        with torch.no_grad():
            self.char_embed.weight[chars.PAD].zero_()
        self.register_buffer("codes", position_codes(cfg.max_chars, cfg.dim, cfg.base), persistent=False)

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        return self.coder.encode(batch)

    def words(self, char_ids: Tensor) -> Tensor:
        """(N, L) character rows of N words -> (N, dim)."""
        length = char_ids.shape[-1]
        codes = self.codes[:length] if length <= len(self.codes) else \
            position_codes(length, self.dim, self.cfg.base).to(self.codes.device)
        return (self.char_embed(char_ids) * codes.to(self.char_embed.weight.dtype)).sum(1)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return chars.embed_distinct(inputs["chars"], inputs["mask"], self.words, self.dim)
