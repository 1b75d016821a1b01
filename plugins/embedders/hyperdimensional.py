"""Hyperdimensional (random n-gram) embedding: each token is the bundle of its character
n-grams, each n-gram the binding of position-rotated random bipolar character hypervectors.

Post: "Hyperdimensional computing: wide embedding meets Hopfield" (printed "Hypersimensional"
in the notes; random gram-based encoding: random hypervectors per letter, rotationally
permuted by their position in the n-gram, bound by multiplication, n-grams summed).
Paper: Kleyko et al. / Neubert et al., "Symbolic Representation and Learning With
Hyperdimensional Computing" (arXiv:2004.11204, Frontiers in Robotics and AI 2020), and the
n-gram text encoding of Rahimi, Kanerva, Rabaey, "A Robust and Energy-Efficient Classifier
Using Brain-Inspired Hyperdimensional Computing" (ISLPED 2016).

A token is wrapped in begin/end-of-word markers, giving symbols c_1..c_L (characters of any
script become rows as in ``chars.py``); each symbol row r has a random bipolar item
hypervector V_r in {-1, +1}^D. With ρ^k = rotation by k places (``torch.roll``), the MAP
operations (multiply = bind, add = bundle) give

    gram_i = ρ^{n-1} V_{c_i} ⊙ ρ^{n-2} V_{c_{i+1}} ⊙ ... ⊙ ρ^0 V_{c_{i+n-1}}   i = 1..L-n+1
    H      = Σ_i gram_i                                  (``torchhd.ngrams``; a test checks it)
    out    = P (H / sqrt(L-n+1))                          entries of H / sqrt(count) have variance 1

with n = min(ngram, L) (a token shorter than n is one gram of all its symbols). P maps D to
``dim``: ``projection=random`` a fixed matrix of N(0, 1/D) entries (nothing trains; distances
are kept up to the Johnson-Lindenstrauss error), ``learned`` the same matrix as a trainable
parameter, ``none`` the identity (then hd_dim must equal dim). Frozen by default.

The item memory is a function of the seed alone: each row's bits are a keyed blake2b stream
(the same on every machine, Python and torch version), rebuilt when the embedder is built, so
the (rows x D) int8 table (30 MB at the defaults) is not saved with the model; the projection
is saved. Each distinct token of a batch is encoded once, looping over the gram positions
(at most max_chars + 2), never over tokens.
Shape contract: encode(list of B token lists) -> {"chars": (B, T, L) long (0: padding),
"mask": (B, T) bool}; forward -> (B, T, dim), zero at padding.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import Tensor, nn

from zoo_core.interfaces import Embedder

from . import chars


def item_memory(rows: int, width: int, seed: int) -> Tensor:
    """(rows, width) int8 random bipolar hypervectors: row r's bits are blake2b(r, block; key=seed)."""
    key = seed.to_bytes(8, "little")
    nbytes = (width + 7) // 8
    blocks = (nbytes + 63) // 64
    out = np.empty((rows, blocks * 64), dtype=np.uint8)
    for r in range(rows):
        stream = b"".join(hashlib.blake2b(r.to_bytes(8, "little") + b.to_bytes(4, "little"), digest_size=64,
                                          key=key, person=b"zoo-hd").digest() for b in range(blocks))
        out[r] = np.frombuffer(stream, dtype=np.uint8)
    bits = np.unpackbits(out, axis=1)[:, :width].astype(np.int8)
    return torch.from_numpy(bits * 2 - 1)


class HyperdimensionalEmbedder(Embedder):
    def __init__(self, *, dim: int = 64, hd_dim: int = 10_000, ngram: int = 3, seed: int = 0,
                 projection: str = "random", char_table: int = 2048, char_buckets: int = 1024, max_chars: int = 32,
                 cache_size: int = 1_000_000):
        super().__init__()
        if projection == "none" and hd_dim != dim:
            raise ValueError(f"projection=none needs hd_dim ({hd_dim}) == dim ({dim}); set hd_dim={dim} "
                             "or projection=random|learned")
        self.dim, self.hd_dim, self.ngram, self.seed, self.projection = dim, hd_dim, ngram, seed, projection
        self.coder = chars.CharCoder(char_table, char_buckets, max_chars, markers=True, cache_size=cache_size)
        rows = chars.num_char_rows(char_table, char_buckets)
        self.register_buffer("items", item_memory(rows, hd_dim, seed), persistent=False)
        if projection != "none":
            g = torch.Generator().manual_seed(seed)
            start = torch.randn(hd_dim, dim, generator=g) / hd_dim ** 0.5
            if projection == "learned":
                self.proj = nn.Parameter(start)
            else:
                self.register_buffer("proj", start)


    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        return self.coder.encode(batch)

    def hypervectors(self, char_ids: Tensor) -> tuple[Tensor, Tensor]:
        """(N, L) symbol rows (0: padding) -> (bundled n-gram hypervectors H (N, D) int32,
        n-grams per token (N,))."""
        lengths = (char_ids != chars.PAD).sum(1)
        grams = lengths.clamp(max=self.ngram)  # symbols per gram
        bundle = torch.zeros(len(char_ids), self.hd_dim, dtype=torch.int32, device=char_ids.device)
        for n in grams.unique().tolist():
            group = (grams == n).nonzero().squeeze(1)
            ids, length = char_ids[group], lengths[group]
            for i in range(int(length.max()) - n + 1):  # gram start positions
                take = (i + n <= length).nonzero().squeeze(1)
                gram = torch.ones(len(take), self.hd_dim, dtype=torch.int8, device=char_ids.device)
                for j in range(n):
                    gram = gram * torch.roll(self.items[ids[take, i + j]], shifts=n - 1 - j, dims=-1)
                bundle.index_add_(0, group[take], gram.to(torch.int32))
        return bundle, lengths - grams + 1

    def words(self, char_ids: Tensor) -> Tensor:
        bundle, count = self.hypervectors(char_ids)
        h = bundle.to(torch.get_default_dtype()) / count.clamp(min=1).unsqueeze(1).to(torch.get_default_dtype()).sqrt()
        return h if self.projection == "none" else h @ self.proj

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return chars.embed_distinct(inputs["chars"], inputs["mask"], self.words, self.dim)
