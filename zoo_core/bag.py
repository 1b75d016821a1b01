"""The EmbeddingBag path of bag models: when the network is "average the token vectors and
classify" (no mixer, no positions, a pooler that declares ``bag_pooling = "mean"`` or
``"sum"``, an embedder with ``bag()``/``encode_bag()``, a loss that does not read per-token
states), the pooled vector is one ``F.embedding_bag`` over the batch's flat token codes with
offsets: no padding, no (B, T, D) tensor, no mask. It equals the padded path's output
(tests/test_fast_path.py compares them); token dropout works on the flat tokens, never
dropping all of a text's tokens (as the padded path).

Inputs: the embedder's ``encode_bag`` dict (keys start with ``bag_``; ``bag_offsets`` (B+1,)).
Outputs: the ZooModel dict with ``states``, ``mask`` and ``weights`` None.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

BAG_KEY = "bag_offsets"


def bag_capable(model) -> bool:
    """Whether ``model`` may run the EmbeddingBag path (the composer's decision)."""
    return (not len(model.mixers) and model.spec.pos == "none"
            and getattr(model.pool, "bag_pooling", None) in ("mean", "sum")
            and callable(getattr(model.embed, "bag", None)) and callable(getattr(model.embed, "encode_bag", None))
            and getattr(model.embed, "id_layout", None) is not None
            and getattr(model.loss, "uses_states", True) is False)


def group_rows_np(rows: np.ndarray, num_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A batch's entries (integer rows in [0, num_rows)) grouped by the row they read, with one
    stable LSD radix sort and no table of ``num_rows``: ``found`` (the sorted distinct rows,
    int64), ``inverse`` (each entry's index among them, flat), ``order`` (a stable permutation
    of the entries grouping them by row, found[0]'s first) and ``starts`` (where each group
    starts in ``order``). ``found, inverse`` equal ``np.unique(rows, return_inverse=True)``;
    ``order`` equals ``np.argsort(rows, kind="stable")``.

    numpy's stable argsort of 8- and 16-bit keys is a counting sort, so the rows are sorted by
    their low 16 bits, then by the rest (8 bits for tables of up to 2^24 rows): for a batch of
    the default recipe (~6,800 entries, 2^18 rows) ~90 us, against ~150 us for marking a table
    of flags and ~200 us for ``torch.unique`` + ``torch.argsort``."""
    flat = rows.reshape(-1)
    if num_rows > 1 << 32:
        order = np.argsort(flat, kind="stable")
    else:
        order = np.argsort(flat.astype(np.uint16), kind="stable")  # C casts keep the low 16 bits
        if num_rows > 1 << 16:
            high = flat[order]
            np.right_shift(high, 16, out=high)
            order = order[np.argsort(high.astype(np.uint8 if num_rows <= 1 << 24 else np.uint16), kind="stable")]
    ordered = flat[order]
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    group = np.cumsum(first)  # each entry's group, counted from 1
    group -= 1
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = group
    return ordered[starts].astype(np.int64, copy=False), inverse, order, starts


def group_rows(rows: Tensor, num_rows: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``group_rows_np`` of a tensor (found, inverse, order, starts; int64): on the CPU by the
    numpy radix sort (no copy), elsewhere by torch's sort. The sparse bag step (hash.py
    ``RowBag``) gathers the ``found`` rows once and sums each group in its backward."""
    if rows.device.type == "cpu":
        return tuple(torch.from_numpy(a) for a in group_rows_np(rows.numpy(), num_rows))
    return group_rows_torch(rows)


def group_rows_torch(rows: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    flat = rows.reshape(-1).long()
    found, inverse, counts = torch.unique(flat, sorted=True, return_inverse=True, return_counts=True)
    order = torch.argsort(inverse, stable=True)
    return found, inverse, order, torch.cumsum(counts, 0) - counts


def token_weights(offsets: Tensor, mode: str, drop: float = 0.0, dtype: torch.dtype | None = None) -> Tensor:
    """(N,) weight of each token in its text's pooled vector: 1/len (mean) or 1 (sum); with
    ``drop``, each token is hidden with that probability (word dropout), a text keeping all
    its tokens when every one would be dropped."""
    lengths = offsets[1:] - offsets[:-1]
    text_of = torch.repeat_interleave(torch.arange(len(lengths), device=offsets.device), lengths)
    if drop > 0:
        keep = torch.rand(len(text_of), device=offsets.device) >= drop
        kept = torch.zeros(len(lengths), device=offsets.device, dtype=torch.long).index_add_(0, text_of, keep.long())
        keep |= (kept == 0)[text_of]
        count = torch.where(kept > 0, kept, lengths)
        weight = keep.to(dtype or torch.get_default_dtype())
    else:
        count, weight = lengths, torch.ones(len(text_of), device=offsets.device, dtype=dtype)
    return weight / count[text_of].to(weight.dtype) if mode == "mean" else weight


def bag_forward(model, inputs: dict[str, Tensor]) -> dict[str, Tensor | None]:
    drop = model.spec.token_dropout if model.training else 0.0
    dtype = next(model.parameters()).dtype
    pooled = model.embed.bag(inputs, token_weights(inputs[BAG_KEY], model.pool.bag_pooling, drop, dtype))
    # the head as on the padded path: a head that learns by its own rule gets pooled.detach() and its probe
    return {"states": None, "mask": None, "pooled": pooled, "weights": None, **model.head_outputs(pooled)}
