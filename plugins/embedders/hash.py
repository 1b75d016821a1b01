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
from .configs import HashConfig

IMPORTANCE_SALT = 0x5EED_1A9E  # xor-ed into the seed for the importance hash D


class HashEmbedder(Embedder):
    def __init__(self, cfg: HashConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        # a token's vector sums ~num_hashes rows: scale so its entries start near unit variance
        self.weight = nn.Parameter(torch.randn(cfg.num_bits, cfg.dim) / cfg.num_hashes ** 0.5)
        k = cfg.num_hashes
        columns = [(k, torch.long), (k, torch.float32)]
        if cfg.importance:
            self.importance = nn.Parameter(torch.ones(cfg.importance_buckets, k))
            columns.append((1, torch.long))
        self._cache = TokenCache(self.code, columns, cfg.cache_size)

    def code(self, token: str) -> tuple[tuple[int, ...], ...]:
        """(bit positions, weights[, importance row]): weight 1 for a set bit, 0 for a bit already
        set by an earlier hash function (a binary code: a bit picked twice is still set once)."""
        bits = token_bits(token, self.cfg.num_bits, self.cfg.num_hashes, self.cfg.seed)
        seen: set[int] = set()
        weights = []
        for b in bits:
            weights.append(0.0 if b in seen else 1.0)
            seen.add(b)
        if not self.cfg.importance:
            return bits, tuple(weights)
        # the second hash: an independent salt, so D(w) is unrelated to the code's bits
        bucket = token_bits(token, self.cfg.importance_buckets, 1, self.cfg.seed ^ IMPORTANCE_SALT)
        return bits, tuple(weights), bucket

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        index, (bits, bit_weight, *bucket) = self._cache.gather(batch)
        out = {"bits": bits, "bit_weight": bit_weight, "mask": index != 0}
        if bucket:
            out["bucket"] = bucket[0].squeeze(-1)
        return out

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        bits, weight = inputs["bits"], inputs["bit_weight"]
        if self.cfg.importance:
            weight = weight * F.embedding(inputs["bucket"], self.importance, sparse=self.cfg.sparse)
        b, t, k = bits.shape
        out = F.embedding_bag(bits.reshape(b * t, k), self.weight, mode="sum", sparse=self.cfg.sparse,
                              per_sample_weights=weight.reshape(b * t, k).to(self.weight.dtype))
        return out.view(b, t, self.dim)
