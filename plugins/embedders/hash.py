"""Hash embedder: every token, seen or unseen, gets a vector with a fixed parameter budget.

Posts: "Word Embeddings: Why Hashing Helps"; "LambdaNetworks: A Quick Glimpse" (its use there)
Papers: Svenstrup, Hansen, Winther, "Hash Embeddings for Efficient Word Representations",
NeurIPS 2017; Bloom-filter codes as in Serrà & Karatzoglou, "Getting deep recommenders fit:
Bloom embeddings", RecSys 2017

Each token is hashed by ``num_hashes`` hash functions into a ``num_bits``-bit binary code
(Bloom style: the bits the functions pick are set); its vector is the sum of the rows of a
(num_bits x dim) matrix selected by the set bits. Parameters: num_bits * dim, whatever the
vocabulary. The hash (``hash=``, recorded in the config) is either ``fnv1a64``, new runs'
default: FNV-1a 64 of the token's UTF-8 bytes mixed into k bits by double hashing, computed
for whole batches in numpy (``zoo_core.featurize``, specified in docs/deploy.md), or
``blake2b`` (``codes.py``, per token and cached), which models saved before the field existed
keep. Both give the same codes in every process, machine and Python version (Python's
``hash()`` is salted per process and must never be used here). Any string works.

    code(w) = {h_1(w), ..., h_k(w)} subset of {0..num_bits-1}     k = num_hashes
    v(w) = sum_{j in code(w)} W[j]                                 W: (num_bits, dim)

With ``importance=true`` each token also gets ``num_hashes`` trainable importance weights, as
in Svenstrup et al.: a second, independent hash D picks the token's row of a table
P: (importance_buckets, k), and the bits are weighted by it instead of by 1,

    v(w) = sum_i P[D(w), i] * W[h_i(w)]                            P starts at all ones

so two tokens that share a bit can still get different vectors, and a token that carries
no signal can be turned down (much like an IDF weight) without touching the rows it shares.

W starts as N(0, init_scale² / k). With a small ``init_scale`` (the default recipe: 0.01, one
hash, 2^18 rows) the rows no training token set stay near zero, so a token never seen in
training adds almost nothing to a mean instead of a random vector (docs/embedders_poolers.md).

The sum is one ``F.embedding_bag`` over all tokens (no Python loop over bits). With
``sparse=true`` its gradient is sparse (only the rows a batch used), as in the post "PyTorch -
Combining Dense And Sparse Gradients": a step then costs O(rows used), not O(num_bits), so
a table of 2**18 rows trains as fast as a small one (pair with ``optim=sparse_dense``): the rows a
batch uses are gathered once (``RowGather``; bag models ``RowBag``, whose backward is a bag sum
over the entries grouped by row), so the gradient arrives as a sparse tensor holding each of
those rows once, sorted: no duplicate rows to merge in the step. The rows and groups come from
``zoo_core.bag.group_rows`` (a numpy radix sort) in the forward. blake2b codes are cached per distinct
token (``cache.py``: up to ``cache_size`` tokens, then the cache starts afresh).

Two input forms: ``encode(token lists)`` / ``encode_ids(ids, offsets)`` give padded tensors for
any model; ``encode_bag(ids, offsets)`` gives the flat per-token form that ``bag()`` sums with
one ``F.embedding_bag`` with offsets and no padding (bag models: no mixer, mean pooling;
``zoo_core.bag``).

Shape contract: encode(list of B token lists) -> {"bits": (B, T, k) long,
"bit_weight": (B, T, k) float (1 for a set bit, 0 for a repeated bit or padding),
"mask": (B, T) bool} and, with importance, "bucket": (B, T) long (the token's row of P);
forward -> (B, T, dim), zero at padding. encode_bag(ids (N,) uint64, offsets (B+1,)) ->
{"bag_bits": (N, k) long, "bag_weight": (N, k) float, "bag_offsets": (B+1,) long[, "bag_bucket": (N,)]}
(from zoo_core.batches' one-hash codes: "bag_bits" int32 and no "bag_weight", i.e. every bit weight 1);
bag(inputs, token_weight (N,)) -> (B, dim) = sum over tokens of token_weight * v(token).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core import featurize
from zoo_core.bag import group_rows
from zoo_core.interfaces import Embedder

from .cache import TokenCache
from .codes import token_bits

IMPORTANCE_SALT = 0x5EED_1A9E  # xor-ed into the seed for the importance hash D (blake2b)


class RowGather(torch.autograd.Function):
    """``weight[rows]`` for sorted unique ``rows``, whose gradient is the sparse (rows, grad)
    tensor, each row once: a sparse optimizer then updates exactly those rows, with none of the
    duplicate rows (one per occurrence) of an EmbeddingBag's sparse gradient to merge."""

    @staticmethod
    def forward(ctx, weight: Tensor, rows: Tensor) -> Tensor:
        ctx.save_for_backward(rows)
        ctx.shape = weight.shape
        return weight.index_select(0, rows)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (rows,) = ctx.saved_tensors
        return torch.sparse_coo_tensor(rows.unsqueeze(0), grad.contiguous(), ctx.shape, is_coalesced=True,
                                       check_invariants=False), None


class RowBag(torch.autograd.Function):
    """``embedding_bag(inverse, weight[rows], offsets, sum, per_sample_weights)`` whose backward
    is itself a bag sum: row u's gradient is the sum, over the entries that read u (``order``
    grouped by ``starts``, found with the batch's encoding), of the entry's weight times its
    text's output gradient. It arrives as the sparse (rows, grad) tensor, each row once, like
    RowGather's, without the sort of EmbeddingBag's own backward. The per-entry weights get no
    gradient (the caller uses RowGather when they need one)."""

    @staticmethod
    def forward(ctx, weight: Tensor, rows: Tensor, inverse: Tensor, offsets: Tensor, entry_weight: Tensor,
                order: Tensor, starts: Tensor) -> Tensor:
        ctx.save_for_backward(rows, offsets, entry_weight, order, starts)
        ctx.shape, ctx.entries = weight.shape, len(inverse)
        return F.embedding_bag(inverse, weight.index_select(0, rows), offsets, mode="sum",
                               per_sample_weights=entry_weight)

    @staticmethod
    def backward(ctx, grad: Tensor):
        rows, offsets, entry_weight, order, starts = ctx.saved_tensors
        sizes = torch.diff(offsets, append=offsets.new_tensor([ctx.entries]))
        text_of = torch.repeat_interleave(torch.arange(len(offsets), device=offsets.device), sizes)
        grad_rows = F.embedding_bag(text_of[order], grad.contiguous(), starts, mode="sum",
                                    per_sample_weights=entry_weight[order])
        return (torch.sparse_coo_tensor(rows.unsqueeze(0), grad_rows, ctx.shape, is_coalesced=True,
                                        check_invariants=False), None, None, None, None, None, None)


class HashEmbedder(Embedder):
    def __init__(self, *, dim: int = 64, num_bits: int = 200, num_hashes: int = 4, seed: int = 0,
                 cache_size: int = 1_000_000, importance: bool = False, importance_buckets: int = 2**20,
                 sparse: bool = False, hash: str = "fnv1a64", init_scale: float = 1.0):
        super().__init__()
        self.dim, self.num_bits, self.num_hashes, self.seed = dim, num_bits, num_hashes, seed
        self.importance_buckets = importance_buckets
        self.sparse = sparse  # the core gives sparse-gradient parameters to a sparse optimizer
        self.hash = hash
        self.id_layout = "token_id64" if hash == "fnv1a64" else None  # what encode_ids consumes
        # a token's vector sums ~num_hashes rows: scale so its entries start near unit variance
        # (times init_scale; the weights of a saved model are loaded, so the field only matters to new ones)
        self.init_scale = init_scale
        if init_scale == 0:  # no draw at all: 2^20 x 64 normals cost seconds
            self.weight = nn.Parameter(torch.zeros(num_bits, dim))
        else:
            self.weight = nn.Parameter(torch.randn(num_bits, dim) / num_hashes ** 0.5)
            if init_scale != 1.0:
                with torch.no_grad():
                    self.weight.mul_(init_scale)
        columns = [(num_hashes, torch.long), (num_hashes, torch.float32)]
        self.importance = None  # P: (importance_buckets, k) with importance=true
        if importance:
            self.importance = nn.Parameter(torch.ones(importance_buckets, num_hashes))
            columns.append((1, torch.long))
        self._cache = TokenCache(self.code, columns, cache_size) if hash == "blake2b" else None

    def code(self, token: str) -> tuple[tuple[int, ...], ...]:
        """blake2b: (bit positions, weights[, importance row]): weight 1 for a set bit, 0 for a bit
        already set by an earlier hash function (a binary code: a bit picked twice is still set once)."""
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

    def id_codes(self, ids: np.ndarray) -> tuple[np.ndarray, ...]:
        """fnv1a64: each token id's (bits (N, k), bit weights (N, k)[, importance bucket (N,)]);
        a pure function of the id, so callers may compute it once per distinct id and gather."""
        return featurize.hash_bits(ids, self.num_bits, self.num_hashes, self.seed,
                                   self.importance_buckets if self.importance is not None else None)

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:
        if self._cache is None:
            flat = [tok for seq in batch for tok in seq]
            lengths = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
            ids = featurize.segment_ids(featurize.code_points("".join(flat)), np.cumsum(lengths) - lengths, lengths)
            offsets = np.zeros(len(batch) + 1, dtype=np.int64)
            np.cumsum([len(seq) for seq in batch], out=offsets[1:])
            return self.encode_ids(ids, offsets)
        index, (bits, bit_weight, *bucket) = self._cache.gather(batch)
        out = {"bits": bits, "bit_weight": bit_weight, "mask": index != 0}
        if bucket:
            out["bucket"] = bucket[0].squeeze(-1)
        return out

    def encode_ids(self, ids: np.ndarray, offsets: np.ndarray, bag: bool = False) -> dict[str, Tensor]:
        """Inputs from flat token ids and offsets (B+1,): padded (bits, bit_weight, mask[, bucket]),
        or with ``bag`` the flat form ``bag()`` takes (text i's tokens at offsets[i]:offsets[i+1])."""
        return self.encode_codes(self.id_codes(ids), offsets, bag)

    def encode_bag(self, ids: np.ndarray, offsets: np.ndarray) -> dict[str, Tensor]:
        return self.encode_codes(self.id_codes(ids), offsets, bag=True)

    def encode_codes(self, codes: tuple[np.ndarray | None, ...], offsets: np.ndarray, bag: bool = False) -> dict[str, Tensor]:
        """``encode_ids`` from the tokens' ``id_codes`` (already gathered, one row per token); bit
        weights of None: every weight is 1 (zoo_core.batches keeps one hash's codes that way; the
        bag inputs then have no ``bag_weight``)."""
        bits, weight = codes[0], codes[1]
        if bag:
            out = {"bag_bits": torch.from_numpy(bits),
                   "bag_offsets": torch.from_numpy(np.ascontiguousarray(offsets, dtype=np.int64))}
            if weight is not None:
                out["bag_weight"] = torch.from_numpy(weight)
            if len(codes) > 2:
                out["bag_bucket"] = torch.from_numpy(codes[2])
            return out
        if weight is None:
            weight = np.ones(bits.shape, dtype=np.float32)
        padded, mask = featurize.pad(bits.astype(np.int64, copy=False), offsets)
        out = {"bits": torch.from_numpy(padded), "bit_weight": torch.from_numpy(featurize.pad(weight, offsets)[0]),
               "mask": torch.from_numpy(mask)}
        if len(codes) > 2:
            out["bucket"] = torch.from_numpy(featurize.pad(codes[2], offsets)[0])
        return out

    def _sparse_step(self) -> bool:
        return self.sparse and self.weight.requires_grad and torch.is_grad_enabled()

    def _sum_rows(self, bits: Tensor, weight: Tensor, offsets: Tensor | None, found=None) -> Tensor:
        """embedding_bag(mode=sum) of rows ``bits`` (2-D: fixed-width bags; 1-D: with offsets);
        ``found``: (unique rows, each bit's index among them) when already known."""
        if self._sparse_step():
            rows, inverse = found if found is not None else group_rows(bits, self.num_bits)[:2]
            table = RowGather.apply(self.weight, rows)
            return F.embedding_bag(inverse.view(bits.shape), table, offsets, mode="sum", per_sample_weights=weight)
        return F.embedding_bag(bits.long(), self.weight, offsets, mode="sum", per_sample_weights=weight)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        bits, weight = inputs["bits"], inputs["bit_weight"]
        if self.importance is not None:
            weight = weight * F.embedding(inputs["bucket"], self.importance, sparse=self.sparse)
        b, t, k = bits.shape
        out = self._sum_rows(bits.reshape(b * t, k), weight.reshape(b * t, k).to(self.weight.dtype), None)
        return out.view(b, t, self.dim)

    def bag(self, inputs: dict[str, Tensor], token_weight: Tensor | None = None) -> Tensor:
        """(B, dim): per text, the sum over its tokens of ``token_weight`` (default 1) times the
        token's vector; one EmbeddingBag over all (token, bit) pairs with offsets, no padding."""
        bits, k, dtype = inputs["bag_bits"], inputs["bag_bits"].shape[1], self.weight.dtype
        if "bag_weight" in inputs:
            weight = inputs["bag_weight"].to(dtype)
        else:  # every bit weight is 1: the token weights are the entries' weights
            weight = (torch.ones(bits.shape, dtype=dtype, device=bits.device) if token_weight is None
                      else token_weight.to(dtype).unsqueeze(-1).expand(-1, k))
            token_weight = None
        if self.importance is not None:
            weight = weight * F.embedding(inputs["bag_bucket"], self.importance, sparse=self.sparse)
        if token_weight is not None:
            weight = weight * token_weight.unsqueeze(-1)
        offsets, weight = inputs["bag_offsets"][:-1] * k, weight.reshape(-1)
        if self._sparse_step():  # the batch's rows and the entries grouped by row: RowBag needs no other sort
            rows, inverse, order, starts = group_rows(bits, self.num_bits)
            if not weight.requires_grad:
                return RowBag.apply(self.weight, rows, inverse, offsets, weight, order, starts)
            return self._sum_rows(bits.reshape(-1), weight, offsets, (rows, inverse))
        return self._sum_rows(bits.reshape(-1), weight, offsets)
