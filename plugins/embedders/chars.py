"""Characters -> row ids, shared by the character embedders (``char_cnn``, ``char_pos``).

No character vocabulary is learned from data, so nothing has to be fitted or saved, and
every character of every script works:

- row 0 is padding; rows 1 and 2 mark the beginning and the end of a word (used by
  ``char_cnn``, as in Kim et al.);
- a code point below ``char_table`` has its own row ``3 + code point`` (2048 covers Latin,
  Greek, Cyrillic, Armenian, Hebrew and Arabic);
- every other code point (CJK, emoji, rare scripts) shares one of ``char_buckets`` rows
  picked by a keyed blake2b hash of its UTF-8 bytes: stable across processes, machines and
  Python versions (Python's ``hash()`` is salted per process and is never used). The
  torch-free functions are in ``codes.py``.

Tokens longer than ``max_chars`` keep their first and last ``max_chars // 2`` characters
(prefixes and suffixes carry most of a word's form); any length is accepted.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .cache import TokenCache
from .codes import BOW, EOW, FIRST_CHAR_ROW, PAD, char_row, clip, num_char_rows  # noqa: F401 (used by callers)


class CharCoder:
    """token -> row ids (cached per distinct token, see ``cache.py``); a batch -> padded ids."""

    def __init__(self, char_table: int, char_buckets: int, max_chars: int, markers: bool, cache_size: int):
        self.char_table, self.char_buckets, self.max_chars, self.markers = char_table, char_buckets, max_chars, markers
        self.width = max_chars + (2 if markers else 0)
        self._cache = TokenCache(self._code, [(self.width, torch.long), (1, torch.long)], cache_size)

    def ids(self, token: str) -> tuple[int, ...]:
        rows = tuple(char_row(c, self.char_table, self.char_buckets) for c in clip(token, self.max_chars))
        return (BOW,) + rows + (EOW,) if self.markers else rows

    def _code(self, token: str) -> tuple[list[int], tuple[int]]:
        ids = self.ids(token)
        return list(ids) + [PAD] * (self.width - len(ids)), (len(ids),)

    def encode(self, batch: list[list[str]], min_chars: int = 1) -> dict[str, Tensor]:
        """{"chars": (B, T, L) long, 0 = padding; "mask": (B, T) bool}. L is the longest
        token of the batch (at least ``min_chars``); a padded token is all zeros."""
        index, (ids, lengths) = self._cache.gather(batch)
        longest = max(int(lengths.max()), min_chars)
        return {"chars": ids[:, :, :longest].contiguous(), "mask": index != 0}


_MULTIPLIERS: dict[int, Tensor] = {}


def distinct_rows(rows: Tensor) -> tuple[Tensor, Tensor]:
    """(N, L) int rows -> (distinct (U, L), inverse (N,)) with ``distinct[inverse] == rows``.

    Same result as ``torch.unique(rows, dim=0, return_inverse=True)`` up to the order of the
    distinct rows, but sorts one int64 key per row instead of comparing rows; a key collision
    is detected and falls back to ``torch.unique``, so the result is always exact."""
    n, length = rows.shape
    if n == 0:
        return rows, rows.new_zeros(0)
    mult = _MULTIPLIERS.get(length)
    if mult is None:
        gen = torch.Generator().manual_seed(length)
        mult = _MULTIPLIERS[length] = torch.randint(1, 2**31, (length,), generator=gen, dtype=torch.long)
    keys = (rows.long() * mult.to(rows.device)).sum(1)
    unique_keys, inverse = torch.unique(keys, return_inverse=True)
    first = torch.empty(len(unique_keys), dtype=torch.long, device=rows.device)
    first.scatter_(0, inverse, torch.arange(n, device=rows.device))
    distinct = rows[first]
    if not torch.equal(distinct[inverse], rows):
        return torch.unique(rows, dim=0, return_inverse=True)
    return distinct, inverse


def embed_distinct(char_ids: Tensor, mask: Tensor, words, dim: int) -> Tensor:
    """Run ``words`` ((U, L) character rows -> (U, dim)) once per distinct real token of a
    (B, T, L) batch and scatter the vectors back to (B, T, dim), zero at padding."""
    b, t, length = char_ids.shape
    keep = mask.reshape(-1)
    distinct, inverse = distinct_rows(char_ids.reshape(b * t, length)[keep])
    vectors = words(distinct)[inverse]
    out = vectors.new_zeros(b * t, dim)
    out[keep] = vectors
    return out.view(b, t, dim)
