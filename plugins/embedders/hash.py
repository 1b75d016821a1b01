"""Hash embedder: every token, seen or unseen, gets a vector with a fixed parameter budget.

Post: "Word Embeddings: Why Hashing Helps" (and its use in "LambdaNetworks: A Quick Glimpse").
Paper: Svenstrup, Hansen, Winther, "Hash Embeddings for Efficient Word Representations",
NeurIPS 2017; Bloom-filter codes as in Serrà & Karatzoglou, "Getting deep recommenders fit:
Bloom embeddings", RecSys 2017.

Each token is hashed by ``num_hashes`` hash functions into a ``num_bits``-bit binary code
(Bloom style: the bits the functions pick are set); its vector is the sum of the rows of a
(num_bits x dim) matrix selected by the set bits. Parameters: num_bits * dim, whatever the
vocabulary. The hash is blake2b of the token's UTF-8 bytes with a fixed salt, so codes are
the same in every process, machine and Python version (Python's ``hash()`` is salted per
process and must never be used here). Any string works: unseen words, "", emoji, any script.

    code(w) = {h_1(w), ..., h_k(w)} subset of {0..num_bits-1}     k = num_hashes
    v(w) = sum_{j in code(w)} W[j]                                 W: (num_bits, dim)

The sum is one ``F.embedding_bag`` over all tokens (no Python loop over bits). Codes are
cached per distinct token (``cache.py``: up to ``cache_size`` tokens, then the cache starts
afresh), so a warm batch costs one dict lookup per token and a tensor gather.

Shape contract: encode(list of B token lists) -> {"bits": (B, T, k) long,
"bit_weight": (B, T, k) float (1 for a set bit, 0 for a repeated bit or padding),
"mask": (B, T) bool}; forward -> (B, T, dim), zero at padding.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Embedder

from .cache import TokenCache
from .codes import token_bits
from .configs import HashConfig


class HashEmbedder(Embedder):
    def __init__(self, cfg: HashConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        # a token's vector sums ~num_hashes rows: scale so its entries start near unit variance
        self.weight = nn.Parameter(torch.randn(cfg.num_bits, cfg.dim) / cfg.num_hashes ** 0.5)
        k = cfg.num_hashes
        self._cache = TokenCache(self.code, [(k, torch.long), (k, torch.float32)], cfg.cache_size)

    def code(self, token: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """(bit positions, weights): weight 1 for a set bit, 0 for a bit already set by an
        earlier hash function (a binary code: a bit picked twice is still set once)."""
        bits = token_bits(token, self.cfg.num_bits, self.cfg.num_hashes, self.cfg.seed)
        seen: set[int] = set()
        weights = []
        for b in bits:
            weights.append(0.0 if b in seen else 1.0)
            seen.add(b)
        return bits, tuple(weights)

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        index, (bits, bit_weight) = self._cache.gather(batch)
        return {"bits": bits, "bit_weight": bit_weight, "mask": index != 0}

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        bits, weight = inputs["bits"], inputs["bit_weight"]
        b, t, k = bits.shape
        out = F.embedding_bag(bits.reshape(b * t, k), self.weight, mode="sum",
                              per_sample_weights=weight.reshape(b * t, k).to(self.weight.dtype))
        return out.view(b, t, self.dim)
