"""Subword hash embedder: one vector per word, the mean (or sum) of its hashed pieces, fastText-style.

Post: "Word Embeddings: Why Hashing Helps" (subword information "allowed to embed unknown words
as a sum of ngrams"; hashing gives a fixed parameter budget whatever the vocabulary)
Paper: Bojanowski, Grave, Joulin, Mikolov, "Enriching Word Vectors with Subword Information",
TACL 2017 (arXiv:1607.04606); the hashing trick for the n-grams as in its section 3.2

A word w is marked ``<w>`` and cut into its character n-grams of ``ngram_min..ngram_max``
characters (the marked word itself left out, as ``tokenizer.unit=char_ngrams`` does), plus,
with ``word=true``, the whole marked word as one more piece. Bojanowski et al. (eq. 2 and
section 3.2) score a word by the sum of its n-gram vectors, each n-gram hashed (FNV-1a) into a
table of fixed size; fastText's word vector averages them. Here each piece is hashed like a
``hash`` embedder's token (FNV-1a 64 of its UTF-8 bytes, ``zoo_core.featurize``, mixed into
``num_hashes`` bits of a ``num_bits``-row table), so

    G(w) = pieces of w                        v(p) = sum_{j in code(p)} W[j]
    e(w) = (1/|G(w)|) sum_{p in G(w)} v(p)    (reduce=mean; reduce=sum drops the 1/|G(w)|)

With ``word_ngrams=2`` (fastText's wordNgrams, the bigrams of its classifier, Joulin et al.,
"Bag of Tricks for Efficient Text Classification", EACL 2017) the word at position t > 0 of a
text has one more piece, the pair "w_{t-1} w_t" (the two words joined by a space, which no word
contains), hashed into the same table: G_t = G(w_t) + {w_{t-1} w_t}; the first word of a text
has none (pairs never cross texts).

and the sequence stays one vector per word for the mixers that follow (the ``hash`` embedder
over ``tokenizer.unit=words`` sees each word as an opaque string: two spellings of one stem
share nothing; here they share most of their n-grams).

The pieces and codes of a word are computed once and cached (up to ``cache_size`` distinct
words, then the cache starts afresh), so ``encode`` is a dict look-up per token and one
concatenation per batch. ``forward`` is one ``F.embedding_bag`` over the batch's distinct rows
(gathered by an embedding with ``sparse`` gradients, so each row the batch used appears once in
the gradient: pair ``sparse=true`` with ``optim=sparse_dense``).

Shape contract: encode(list of B token lists, the longest T tokens) -> {"rows": (R,) long
(the distinct table rows of the batch), "piece_rows": (P,) long (each (piece, bit) pair's index
into ``rows``), "piece_weight": (P,) float (1, or 1/|G(w)| with reduce=mean; 0 for a bit a
piece sets twice; the pieces include the word pair with word_ngrams=2), "word_offsets": (N,) long (word i's pairs start there; N = number of real
tokens, in row-major order of the mask), "mask": (B, T) bool}; forward -> (B, T, dim), zero at
padding; the real tokens may sit on either side of the padding (they fill the mask's True
positions in row-major order).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core import featurize
from zoo_core.interfaces import Embedder


def word_pieces(word: str, ngram_min: int, ngram_max: int, with_word: bool) -> list[str]:
    """The pieces of ``word``: ``<word>`` (with_word) then its n-grams, shortest first."""
    marked = f"<{word}>"
    pieces = [marked] if with_word else []
    for n in range(ngram_min, ngram_max + 1):
        pieces.extend(marked[i: i + n] for i in range(len(marked) - n + 1) if marked[i: i + n] != marked)
    return pieces or [marked]  # a word too short for any n-gram keeps its marked self


class SubwordHashEmbedder(Embedder):
    def __init__(self, *, dim: int = 64, num_bits: int = 2**18, num_hashes: int = 1, ngram_min: int = 3,
                 ngram_max: int = 6, word: bool = True, reduce: str = "mean", word_ngrams: int = 1, seed: int = 0,
                 cache_size: int = 1_000_000, sparse: bool = False, init_scale: float = 1.0):
        super().__init__()
        if not 1 <= ngram_min <= ngram_max:
            raise ValueError(f"need 1 <= ngram_min <= ngram_max, got {ngram_min}, {ngram_max}")
        if reduce not in ("mean", "sum"):
            raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
        if word_ngrams not in (1, 2):
            raise ValueError(f"word_ngrams must be 1 or 2, got {word_ngrams}")
        self.dim, self.num_bits, self.num_hashes, self.seed = dim, num_bits, num_hashes, seed
        self.ngram_min, self.ngram_max, self.word, self.reduce = ngram_min, ngram_max, word, reduce
        self.word_ngrams = word_ngrams
        self.cache_size, self.sparse, self.init_scale = cache_size, sparse, init_scale
        # a piece's vector sums num_hashes rows: N(0, init_scale² / k) gives it entries of variance init_scale²
        self.weight = nn.Parameter(torch.randn(num_bits, dim) * (init_scale / num_hashes ** 0.5))
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}

    def _hash(self, strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(bits (N, k) int64, bit weights (N, k) float32: 0 for a bit the string sets twice)."""
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        ids = featurize.segment_ids(featurize.code_points("".join(strings)), np.cumsum(lengths) - lengths, lengths)
        return featurize.hash_bits(ids, self.num_bits, self.num_hashes, self.seed)

    def _codes(self, words: list[str]) -> list[tuple[np.ndarray, np.ndarray, int]]:
        """Each word's (rows (P*k,) int64, bit weights (P*k,) float32, P), all pieces hashed at once."""
        pieces = [word_pieces(w, self.ngram_min, self.ngram_max, self.word) for w in words]
        bits, weight = self._hash([p for ps in pieces for p in ps])
        out, at = [], 0
        for ps in pieces:
            n = len(ps)
            out.append((bits[at:at + n].reshape(-1), weight[at:at + n].reshape(-1), n))
            at += n
        return out

    def codes(self, words: list[str]) -> list[tuple[np.ndarray, np.ndarray, int]]:
        new = list(dict.fromkeys(w for w in words if w not in self._cache))
        if new:
            if len(self._cache) + len(new) > self.cache_size:
                self._cache = {}
            found = dict(zip(new, self._codes(new)))
            if len(found) <= self.cache_size:
                self._cache.update(found)
            return [self._cache.get(w) or found[w] for w in words]
        return [self._cache[w] for w in words]

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        flat = [tok for seq in batch for tok in seq]
        lengths = np.array([len(seq) for seq in batch], dtype=np.int64)
        mask = torch.arange(int(lengths.max(initial=0))).unsqueeze(0) < torch.from_numpy(lengths).unsqueeze(1)
        codes = self.codes(flat)
        parts = [c[:2] for c in codes]
        pieces = np.fromiter((c[2] for c in codes), dtype=np.int64, count=len(codes))
        if self.word_ngrams == 2 and flat:  # (previous word, word), within a text: one more piece of the word
            follows = np.ones(len(flat), dtype=bool)
            follows[(np.cumsum(lengths) - lengths)[lengths > 0]] = False
            after = np.flatnonzero(follows)
            pair_bits, pair_weight = self._hash([f"{flat[i - 1]} {flat[i]}" for i in after])
            for j, i in enumerate(after):
                parts[i] = (np.concatenate([parts[i][0], pair_bits[j]]), np.concatenate([parts[i][1], pair_weight[j]]))
            pieces = pieces + follows
        sizes = np.fromiter((len(p[0]) for p in parts), dtype=np.int64, count=len(parts))
        bits = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        weight = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.float32)
        if self.reduce == "mean":
            weight = (weight / np.repeat(pieces, sizes)).astype(np.float32)
        rows, inverse = np.unique(bits, return_inverse=True)
        return {"rows": torch.from_numpy(rows), "piece_rows": torch.from_numpy(inverse.reshape(-1).astype(np.int64)),
                "piece_weight": torch.from_numpy(np.ascontiguousarray(weight)),
                "word_offsets": torch.from_numpy(np.cumsum(sizes) - sizes), "mask": mask}

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        mask = inputs["mask"]
        table = F.embedding(inputs["rows"], self.weight, sparse=self.sparse)  # each used row once
        words = F.embedding_bag(inputs["piece_rows"], table, inputs["word_offsets"], mode="sum",
                                per_sample_weights=inputs["piece_weight"].to(table.dtype))
        b, t = mask.shape
        where = mask.reshape(-1).nonzero().squeeze(1)  # row-major: the real tokens on either side of padding
        return words.new_zeros(b * t, self.dim).index_copy(0, where, words).view(b, t, self.dim)
