"""A per-token cache for embedders whose numericalisation is a pure function of the token
(hash codes, character ids): each distinct token gets a row of fixed-width code tables,
computed once; a batch is then one dict lookup per token and one tensor gather.

Row 0 of every table is padding (all zeros). ``cache_size`` bounds the distinct tokens
kept; it is a soft limit: when it is reached the cache starts afresh before the next batch
(a batch never loses rows it is using). ``cache_size=0`` keeps nothing between batches.
A lock makes concurrent callers safe (zoo's trainer encodes on one worker thread, but a
user may serve predictions from several); tensors handed out are gathered copies, so a
later growth of the tables never changes them.
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import torch
from torch import Tensor


class TokenCache:
    def __init__(self, code: Callable[[str], Sequence[Sequence[float]]], columns: Sequence[tuple[int, torch.dtype]],
                 cache_size: int):
        """``code(token)`` returns one row per table; table i has ``columns[i] = (width, dtype)``."""
        self.code, self.columns, self.cache_size = code, list(columns), cache_size
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.rows: dict[str, int] = {}
        self.tables = [torch.zeros(1024, width, dtype=dtype) for width, dtype in self.columns]

    def __len__(self) -> int:
        return len(self.rows)

    def _add(self, tokens: list[str], first_row: int) -> None:
        end = first_row + len(tokens)
        if end > len(self.tables[0]):  # grow by doubling: appending stays amortised O(1) per token
            size = max(end, 2 * len(self.tables[0]))
            self.tables = [torch.cat([t, t.new_zeros(size - len(t), t.shape[1])]) for t in self.tables]
        codes = [self.code(tok) for tok in tokens]
        for i, table in enumerate(self.tables):
            table[first_row:end] = torch.tensor([c[i] for c in codes], dtype=table.dtype).view(len(tokens), -1)

    def gather(self, batch: list[list[str]]) -> tuple[Tensor, list[Tensor]]:
        """The batch's row index (B, T) and each table gathered at it, (B, T, width)."""
        with self._lock:
            index = self._index(batch)
            return index, [table[index] for table in self.tables]

    def _index(self, batch: list[list[str]]) -> Tensor:
        """(B, T) long: each token's row, 0 at padding (T = longest sequence, at least 1)."""
        if not self.cache_size or len(self.rows) >= self.cache_size:
            self.clear()
        rows = self.rows
        first_new = len(rows) + 1
        new: list[str] = []
        t = max([len(s) for s in batch] + [1])
        flat: list[int] = []
        lookup = rows.__getitem__
        for seq in batch:
            start = len(flat)
            try:  # warm cache: one C-level map over the sequence (the trainer encodes on a thread
                flat.extend(map(lookup, seq))  # beside the training step, so this holds the GIL)
            except KeyError:  # a new token: redo this sequence token by token
                del flat[start:]
                for tok in seq:
                    row = rows.get(tok)
                    if row is None:
                        row = rows[tok] = first_new + len(new)
                        new.append(tok)
                    flat.append(row)
            flat.extend([0] * (t - len(seq)))
        if new:
            self._add(new, first_new)
        return torch.tensor(flat, dtype=torch.long).view(len(batch), t)
