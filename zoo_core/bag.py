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


def unique_rows(rows: np.ndarray, num_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, return_inverse=True)`` (sorted distinct rows, each entry's index among
    them, flat) for integer rows in [0, num_rows): by marking a table of ``num_rows`` flags when
    that is small next to the batch (no sort; ~3x faster for a batch's bits in a 2^18-row table)."""
    flat = rows.reshape(-1)
    if num_rows > 64 * len(flat) + 4096:
        found, inverse = np.unique(flat, return_inverse=True)
        return found, inverse.reshape(-1)
    seen = np.zeros(num_rows, dtype=bool)
    seen[flat] = True
    found = np.flatnonzero(seen)
    where = np.empty(num_rows, dtype=np.int64)
    where[found] = np.arange(len(found))
    return found, where[flat]


def row_groups(inverse: np.ndarray, num_found: int) -> tuple[np.ndarray, np.ndarray]:
    """The entries grouped by the row they read: ``order`` (a stable permutation of the entries,
    row 0's first) and ``starts`` (num_found,), where each row's group starts in ``order``. The
    backward of a bag sum is a bag sum over these groups (hash.py ``RowBag``): no sort in the step.
    A radix sort when the rows fit 16 bits (numpy's stable sort of uint16)."""
    keys = inverse.astype(np.uint16) if num_found <= 1 << 16 else inverse
    order = np.argsort(keys, kind="stable")
    starts = np.zeros(num_found, dtype=np.int64)
    np.cumsum(np.bincount(inverse, minlength=num_found)[:-1], out=starts[1:])
    return order, starts


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
