"""A split's texts, featurised once into compact arrays; a batch is a slice of them.

For an embedder that consumes token ids (``id_layout = "token_id64"``, e.g. ``hash`` with
``hash=fnv1a64``) the texts are featurised in chunks (``zoo_core.featurize``, vectorised)
into: the distinct token ids of each chunk (``table``, uint64), each token's row of that
table (``index``, int32: 4 bytes a token) and each text's offsets (int64). The embedder's
codes of each distinct id are computed once (``id_codes``), so a batch is a gather of rows,
shuffling and token dropout work on ids, and memory holds no token strings: it grows with
the number of tokens by 4 bytes each, not by a Python string each. Any other embedder gets
``TokenFeatures``: the Tokenizer's token lists and the embedder's own ``encode``.

Both give ``lengths`` (tokens per text), ``len()`` and ``encode(idx) -> inputs``: the bag
inputs when the model takes the EmbeddingBag path (``zoo_core.bag``), else padded tensors.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .bag import bag_capable
from .featurize import gather_texts, token_ids
from .runspec import TokenizerConfig
from .tokenize import Tokenizer

CHUNK = 20_000  # texts featurised at once: bounds the temporary arrays


class TokenFeatures:
    """Token lists (any embedder): ``encode`` is the embedder's own."""

    def __init__(self, model, token_lists: list[list[str]]):
        self.model, self.tokens = model, token_lists
        self.lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, idx):
        return self.model.encode([self.tokens[i] for i in idx])


class IdFeatures:
    """Flat token ids: ``index`` (int32 rows of ``table``; None: token i is row i), ``offsets``
    (int64, len+1). When the embedder's codes of a token are one int32-sized column with weight
    1 (e.g. ``hash`` with one hash function) the tokens' codes themselves take no more memory
    than ``index``: they are gathered once (``codes`` then has one row per token, ``index`` is
    None, and the weights are None, i.e. all 1), so a batch reads one slice of codes per text."""

    def __init__(self, model, index: np.ndarray | None, offsets: np.ndarray, table: np.ndarray, bag: bool):
        self.embed, self.offsets, self.table, self.bag = model.embed, offsets, table, bag
        codes = model.embed.id_codes(table)  # per distinct id, computed once
        if index is not None and _one_narrow_column(codes):
            self.codes, self.index = (_gather_in_place(codes[0][:, 0].astype(np.int32), index)[:, None], None), None
        else:
            self.codes, self.index = codes, index
        self.lengths = np.diff(offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def encode(self, idx):
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) and idx[-1] - idx[0] == len(idx) - 1 and (len(idx) < 3 or (np.diff(idx) == 1).all()):
            lo, hi = int(self.offsets[idx[0]]), int(self.offsets[idx[-1] + 1])  # consecutive texts: a slice
            offsets = self.offsets[idx[0]:idx[-1] + 2] - lo
            if self.index is None:
                return self.embed.encode_codes(tuple(_rows(c, slice(lo, hi)) for c in self.codes), offsets, self.bag)
            rows = self.index[lo:hi]
        else:
            pos, offsets = gather_texts(self.offsets, idx)
            rows = pos if self.index is None else self.index[pos]
        return self.embed.encode_codes(tuple(_rows(c, rows) for c in self.codes), offsets, self.bag)


def _rows(column: np.ndarray | None, rows):
    return None if column is None else column[rows]


def _one_narrow_column(codes: tuple[np.ndarray, ...]) -> bool:
    """Codes of (bits (N, 1) below 2^31, weights (N, 1) all 1) and nothing else."""
    return (len(codes) == 2 and codes[0].ndim == 2 and codes[0].shape[1] == 1 and codes[1].all()
            and (len(codes[0]) == 0 or int(codes[0].max()) < 2**31))


def _gather_in_place(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]`` written over ``index`` when they share a dtype (no second token array),
    in chunks (no int64 copy of the whole index)."""
    out = index if index.dtype == values.dtype else np.empty(len(index), dtype=values.dtype)
    for start in range(0, len(index), 1 << 22):
        out[start:start + (1 << 22)] = values[index[start:start + (1 << 22)]]
    return out


def uses_ids(model) -> bool:
    return getattr(model.embed, "id_layout", None) == "token_id64"


def featurize_texts(model, texts: list[str], tokenizer: TokenizerConfig | None = None, *,
                    bag: bool | None = None, progress: Callable[[int, int], None] | None = None,
                    dedup: bool = True):
    """``texts`` as the features ``model`` consumes; ``progress(done, total)`` after each chunk.
    ``dedup=False`` (one pass, e.g. prediction) skips finding the distinct ids: each token's
    codes are computed directly."""
    cfg = tokenizer or model.run.tokenizer
    if not uses_ids(model):
        return TokenFeatures(model, Tokenizer(cfg).batch(texts))
    bag = bag_capable(model) if bag is None else bag
    if not dedup:
        ids, offsets = token_ids(texts, cfg.unit, cfg.ngram_min, cfg.ngram_max, cfg.word_token, cfg.lowercase,
                                 cfg.max_tokens)
        return IdFeatures(model, None, offsets, ids, bag)
    tables, indices, offsets, base, total = [], [], [np.zeros(1, dtype=np.int64)], 0, 0
    for start in range(0, len(texts), CHUNK):
        ids, off = token_ids(texts[start:start + CHUNK], cfg.unit, cfg.ngram_min, cfg.ngram_max, cfg.word_token,
                             cfg.lowercase, cfg.max_tokens)
        table, inverse = np.unique(ids, return_inverse=True)
        tables.append(table)
        indices.append((inverse + base).astype(np.int32 if base + len(table) < 2**31 else np.int64))
        offsets.append(off[1:] + total)
        base, total = base + len(table), total + len(ids)
        if progress is not None:
            progress(min(start + CHUNK, len(texts)), len(texts))
    table, remap = np.unique(np.concatenate(tables) if tables else np.zeros(0, np.uint64), return_inverse=True)
    del tables
    index = np.concatenate(indices) if indices else np.zeros(0, np.int32)
    del indices
    remap = remap.astype(index.dtype)
    for start in range(0, len(index), 1 << 22):  # each chunk's rows -> rows of the one table, in place
        index[start:start + (1 << 22)] = remap[index[start:start + (1 << 22)]]
    return IdFeatures(model, index, np.concatenate(offsets), table, bag)
