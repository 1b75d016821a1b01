"""Hash embedder: every token, seen or unseen, gets a vector with a fixed parameter budget.

Posts: "Word Embeddings: Why Hashing Helps"; "LambdaNetworks: A Quick Glimpse" (its use there)
Papers: Svenstrup, Hansen, Winther, "Hash Embeddings for Efficient Word Representations",
NeurIPS 2017; Bloom-filter codes as in Serrà & Karatzoglou, "Getting deep recommenders fit:
Bloom embeddings", RecSys 2017

Each token is hashed by ``num_hashes`` hash functions into a ``num_bits``-bit binary code
(Bloom style: the bits the functions pick are set); its vector is the sum of the rows of a
(num_bits x dim) matrix selected by the set bits. Parameters: num_bits * dim, whatever the
vocabulary. The hash is blake2b of the token's UTF-8 bytes with a fixed salt, so codes are
the same in every process, machine and Python version (Python's ``hash()`` is salted per
process and must never be used here). Any string works: unseen words, "", emoji, any script.

    code(w) = {h_1(w), ..., h_k(w)} subset of {0..num_bits-1}     k = num_hashes
    v(w) = sum_{j in code(w)} W[j]                                 W: (num_bits, dim)

With ``importance=true`` each token also gets ``num_hashes`` trainable importance weights, as
in Svenstrup et al.: a second, independent hash D picks the token's row of a table
P: (importance_buckets, k), and the bits are weighted by it instead of by 1,

    v(w) = sum_i P[D(w), i] * W[h_i(w)]                            P starts at all ones

so two tokens that share a bit can still get different vectors, and a token that carries
no signal can be turned down (much like an IDF weight) without touching the rows it shares.

The sum is one ``F.embedding_bag`` over all tokens (no Python loop over bits). With
``sparse=true`` its gradient is sparse (only the rows a batch used), as in the post "PyTorch -
Combining Dense And Sparse Gradients": a step then costs O(rows used), not O(num_bits), so
a table of 2**18 rows trains as fast as a small one (pair with ``optim=sparse_dense``). Codes are
cached per distinct token (``cache.py``: up to ``cache_size`` tokens, then the cache starts
afresh), so a warm batch costs one dict lookup per token and a tensor gather.

Shape contract: encode(list of B token lists) -> {"bits": (B, T, k) long,
"bit_weight": (B, T, k) float (1 for a set bit, 0 for a repeated bit or padding),
"mask": (B, T) bool} and, with importance, "bucket": (B, T) long (the token's row of P);
forward -> (B, T, dim), zero at padding.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Embedder

from .cache import TokenCache
from .codes import token_bits

IMPORTANCE_SALT = 0x5EED_1A9E  # xor-ed into the seed for the importance hash D


class HashEmbedder(Embedder):
    def __init__(self, *, dim: int = 64, num_bits: int = 200, num_hashes: int = 4, seed: int = 0,
                 cache_size: int = 1_000_000, importance: bool = False, importance_buckets: int = 2**20,
                 sparse: bool = False):
        super().__init__()
        self.dim, self.num_bits, self.num_hashes, self.seed = dim, num_bits, num_hashes, seed
        self.importance_buckets = importance_buckets
        self.sparse = sparse  # the core gives sparse-gradient parameters to a sparse optimizer
        # a token's vector sums ~num_hashes rows: scale so its entries start near unit variance
        self.weight = nn.Parameter(torch.randn(num_bits, dim) / num_hashes ** 0.5)
        columns = [(num_hashes, torch.long), (num_hashes, torch.float32)]
        self.importance = None  # P: (importance_buckets, k) with importance=true
        if importance:
            self.importance = nn.Parameter(torch.ones(importance_buckets, num_hashes))
            columns.append((1, torch.long))
        self._cache = TokenCache(self.code, columns, cache_size)

    def code(self, token: str) -> tuple[tuple[int, ...], ...]:
        """(bit positions, weights[, importance row]): weight 1 for a set bit, 0 for a bit already
        set by an earlier hash function (a binary code: a bit picked twice is still set once)."""
        bits = token_bits(token, self.num_bits, self.num_hashes, self.seed)
        seen: set[int] = set()
        weights = []
        for b in bits:
            weights.append(0.0 if b in seen else 1.0)
            seen.add(b)
        if self.importance is None:
            return bits, tuple(weights)
        # the second hash: an independent salt, so D(w) is unrelated to the code's bits
        bucket = token_bits(token, self.importance_buckets, 1, self.seed ^ IMPORTANCE_SALT)
        return bits, tuple(weights), bucket

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        index, (bits, bit_weight, *bucket) = self._cache.gather(batch)
        out = {"bits": bits, "bit_weight": bit_weight, "mask": index != 0}
        if bucket:
            out["bucket"] = bucket[0].squeeze(-1)
        return out

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        bits, weight = inputs["bits"], inputs["bit_weight"]
        if self.importance is not None:
            weight = weight * F.embedding(inputs["bucket"], self.importance, sparse=self.sparse)
        b, t, k = bits.shape
        out = F.embedding_bag(bits.reshape(b * t, k), self.weight, mode="sum", sparse=self.sparse,
                              per_sample_weights=weight.reshape(b * t, k).to(self.weight.dtype))
        return out.view(b, t, self.dim)
