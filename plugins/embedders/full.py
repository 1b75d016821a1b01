"""Full (vocabulary) embedder: one learned vector per training token, the classic baseline
the hash and character embedders are compared with; optionally with sparse gradients.

Posts: "PyTorch – Combining Dense And Sparse Gradients"; "Word Embeddings: Why Hashing Helps"
Paper: Bengio et al., "A Neural Probabilistic Language Model", JMLR 2003 (a learned vector
per vocabulary word)

"PyTorch – Combining Dense And Sparse Gradients": ``nn.Embedding(sparse=True)``, only the
rows a batch used get a gradient; pair it with SparseAdam/Adagrad/SGD for those rows, e.g.
through a dense+sparse optimizer. "Word Embeddings: Why Hashing Helps": why a vocabulary
costs vocab_size * dim parameters and fails on unseen tokens.

    v(token) = E[index(token)],   E: (2 + |vocab| [+ unk_buckets], dim)

Rows: 0 padding (always zero, no gradient), 1 the shared <unk>, then the vocabulary, most
frequent first, then (unk=hashed) ``unk_buckets`` rows for out-of-vocabulary tokens.
``fit(token_lists)`` builds the vocabulary from training data: tokens seen at least
``min_count`` times, at most ``max_size`` of them, ties broken by the token string so the
order is reproducible. Out-of-vocabulary tokens (the ``unk`` policy):
- ``shared``: all go to row 1. With min_count > 1 the rare training tokens train it; with
  min_count = 1 it is never trained, so unseen tokens share one random vector.
- ``hashed``: each goes to one of ``unk_buckets`` rows by a stable blake2b hash (the hash
  embedder's ``token_bits``), so different unseen tokens mostly get different vectors.
- ``zero``: the zero vector (row 0), i.e. unseen tokens are ignored by a mean pooler's sum.
Before ``fit`` every token is out of vocabulary.

The vocabulary is the JSON state (``state_json`` / ``load_state_json``); both ``fit`` and
``load_state_json`` re-allocate the table when its size changes, keeping device, dtype and
requires_grad (a frozen embedder stays frozen), so build the optimizer after them.

Shape contract: encode(list of B token lists) -> {"ids": (B, T) long (0: padding),
"mask": (B, T) bool}; forward -> (B, T, dim), zero at padding.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Literal

import torch
from torch import Tensor, nn

from zoo_core.interfaces import Embedder

from .codes import token_bits

PAD_ROW, UNK_ROW, FIRST_WORD_ROW = 0, 1, 2
STATE_FORMAT = 1


class FullEmbedder(Embedder):
    def __init__(self, *, dim: int = 64, min_count: int = 1, max_size: int | None = 50_000,
                 unk: Literal["shared", "hashed", "zero"] = "shared", unk_buckets: int = 64, sparse: bool = False):
        super().__init__()
        self.dim, self.min_count, self.max_size, self.unk, self.unk_buckets = dim, min_count, max_size, unk, unk_buckets
        self.sparse = sparse  # nn.Embedding(sparse=True); the core gives it to a sparse optimizer
        self.vocab: list[str] = []
        self._index: dict[str, int] = {}
        self.embedding = self._table(self._num_rows())

    # ---- vocabulary ----------------------------------------------------------------
    def _num_rows(self) -> int:
        return FIRST_WORD_ROW + len(self.vocab) + (self.unk_buckets if self.unk == "hashed" else 0)

    def _table(self, rows: int) -> nn.Embedding:
        return nn.Embedding(rows, self.dim, padding_idx=PAD_ROW, sparse=self.sparse)

    def _set_vocab(self, vocab: list[str]) -> None:
        self.vocab = list(vocab)
        self._index = {tok: FIRST_WORD_ROW + i for i, tok in enumerate(self.vocab)}
        rows = self._num_rows()
        old = self.embedding.weight
        if old.shape[0] != rows:
            table = self._table(rows).to(device=old.device, dtype=old.dtype)
            table.weight.requires_grad_(old.requires_grad)
            self.embedding = table

    def fit(self, token_lists: Iterable[list[str]]) -> None:
        counts = Counter(tok for tokens in token_lists for tok in tokens)
        kept = sorted((tok for tok, n in counts.items() if n >= self.min_count), key=lambda t: (-counts[t], t))
        if self.max_size is not None:
            kept = kept[: self.max_size]
        self._set_vocab(kept)

    def state_json(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "vocab": list(self.vocab)}

    def load_state_json(self, state: dict[str, Any]) -> None:
        if not state:
            return
        unknown = sorted(set(state) - {"format", "vocab"})
        if unknown or state.get("format") != STATE_FORMAT:
            raise ValueError(f"full embedder: unreadable vocabulary state (format={state.get('format')!r}, "
                             f"unexpected keys {unknown}); expected format {STATE_FORMAT} with a 'vocab' list")
        vocab = state.get("vocab")
        if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
            raise ValueError("full embedder: state 'vocab' must be a list of strings")
        if len(set(vocab)) != len(vocab):
            raise ValueError("full embedder: state 'vocab' repeats a token")
        self._set_vocab(vocab)

    def row(self, token: str) -> int:
        idx = self._index.get(token)
        if idx is not None:
            return idx
        if self.unk == "shared":
            return UNK_ROW
        if self.unk == "zero":
            return PAD_ROW
        return FIRST_WORD_ROW + len(self.vocab) + token_bits(token, self.unk_buckets, 1)[0]

    # ---- contract ------------------------------------------------------------------
    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        t = max([len(s) for s in batch] + [1])
        get, row = self._index.get, self.row
        flat: list[int] = []
        for seq in batch:
            flat.extend([get(tok) or row(tok) for tok in seq])
            flat.extend([PAD_ROW] * (t - len(seq)))
        ids = torch.tensor(flat, dtype=torch.long).view(len(batch), t)
        lengths = torch.tensor([len(s) for s in batch], dtype=torch.long)
        return {"ids": ids, "mask": torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)}

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return self.embedding(inputs["ids"])
