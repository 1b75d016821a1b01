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
process and must never be used here).

Shape contract: encode(list of B token lists) -> {"bits": (B, T, k) long,
"bit_weight": (B, T, k) float (1 for a set bit, 0 for a repeated bit or padding),
"mask": (B, T) bool}; forward -> (B, T, dim), zero at padding.
"""
from __future__ import annotations

import hashlib

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Embedder

from .configs import HashConfig


def token_bits(token: str, num_bits: int, num_hashes: int, seed: int = 0) -> tuple[int, ...]:
    """The ``num_hashes`` bit positions of ``token`` (stable across processes and machines)."""
    digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=4 * num_hashes,
                             salt=seed.to_bytes(8, "little"), person=b"zoo-hash").digest()
    return tuple(int.from_bytes(digest[4 * i: 4 * i + 4], "little") % num_bits for i in range(num_hashes))


class HashEmbedder(Embedder):
    def __init__(self, cfg: HashConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        # a token's vector sums ~num_hashes rows: scale so its entries start near unit variance
        self.weight = nn.Parameter(torch.randn(cfg.num_bits, cfg.dim) / cfg.num_hashes ** 0.5)
        self._cache: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {}

    def code(self, token: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
        hit = self._cache.get(token)
        if hit is not None:
            return hit
        bits = token_bits(token, self.cfg.num_bits, self.cfg.num_hashes, self.cfg.seed)
        seen: set[int] = set()
        weights = []
        for b in bits:  # a binary code: a bit picked twice is still set once
            weights.append(0.0 if b in seen else 1.0)
            seen.add(b)
        out = (bits, tuple(weights))
        if self.cfg.cache_size:
            if len(self._cache) >= self.cfg.cache_size:
                self._cache.clear()
            self._cache[token] = out
        return out

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        k = self.cfg.num_hashes
        longest = max([len(s) for s in batch] + [1])
        pad = ((0,) * k, (0.0,) * k)
        codes = [[self.code(t) for t in seq] + [pad] * (longest - len(seq)) for seq in batch]
        bits = torch.tensor([[c[0] for c in row] for row in codes], dtype=torch.long).view(len(batch), longest, k)
        weight = torch.tensor([[c[1] for c in row] for row in codes], dtype=torch.float32).view(len(batch), longest, k)
        mask = torch.tensor([[i < len(s) for i in range(longest)] for s in batch], dtype=torch.bool)
        return {"bits": bits, "bit_weight": weight, "mask": mask}

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        bits, weight = inputs["bits"], inputs["bit_weight"]
        b, t, k = bits.shape
        out = F.embedding_bag(bits.reshape(b * t, k), self.weight, mode="sum",
                              per_sample_weights=weight.reshape(b * t, k).to(self.weight.dtype))
        return out.view(b, t, self.dim)
