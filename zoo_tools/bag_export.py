"""The bag-form ONNX graph of a bag model (no mixer, mean or sum pooling, the ``hash`` embedder
with fnv1a64 ids and no importance weights; ``zoo_core.bag``): flat tokens with each token's
text, no padding and no mask, so onnxruntime gathers only the rows the texts use.

    inputs   bag_bits (N, k) int64   the tokens' bits; a repeated bit is row num_bits (a zero row)
             bag_text (N,) int64     the text (0 .. B-1) of each token
             bag_scale (B,) float32  1/length of each text (mean pooling) or 1 (sum)
    graph    rows = table[bag_bits] (N*k, dim), table = the embedder's weight + one zero row
             pooled[b] = bag_scale[b] * sum of the rows of text b (ScatterND, reduction add)
             logits = head(pooled)

With a linear head (``nn.Linear``: logits = W pooled + b) the head is folded into the table:
``table = [E; 0] Wᵀ`` (num_bits + 1, C), so the graph gathers C-wide rows instead of dim-wide
ones and ends with ``bag_scale * sum + b`` (exact algebra: W (s Σ e) + b = s Σ (W e) + b; with
C = 42 classes and dim = 64 a third less memory read per token). Other heads get the pooled vector.

It equals the padded graph (bits, bit_weight, mask -> masked mean) without reading padding or
multiplying by weights: a bit weight is 0 or 1, so a 0 becomes the zero row. Measured with
onnxruntime on one thread (docs/benchmarks/inference.md), a flat gather and one scatter-add ran
faster than a padded (B, T*k) gather with the same zero row and a ReduceSum. The featurizer
(``zoo_core.featurize.bag_inputs``) makes these inputs from texts with numpy only.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from zoo_core import featurize
from zoo_core.bag import bag_capable

NAMES = ["bag_bits", "bag_text", "bag_scale"]
AXES = {"bag_bits": {0: "tokens"}, "bag_text": {0: "tokens"}, "bag_scale": {0: "batch"}}


def applicable(model) -> bool:
    embed = model.embed
    return (bag_capable(model) and getattr(embed, "id_layout", None) == "token_id64"
            and getattr(embed, "importance", 1) is None and hasattr(embed, "num_hashes"))


class BagGraph(nn.Module):
    """``logits`` from the bag inputs above; the head is the model's own module."""

    def __init__(self, model):
        super().__init__()
        weight = model.embed.weight.detach()
        table = torch.cat([weight, weight.new_zeros(1, weight.shape[1])])
        head = model.head
        self.folded = isinstance(head, nn.Linear)
        if self.folded:  # the linear head folded into the table (module docstring)
            table = table @ head.weight.detach().t()
            bias = head.bias.detach() if head.bias is not None else table.new_zeros(table.shape[1])
            self.register_buffer("bias", bias.clone())
            head = None
        self.register_buffer("table", table.contiguous())
        self.k, self.width, self.head = model.embed.num_hashes, table.shape[1], head

    def forward(self, *tensors: Tensor) -> Tensor:  # (bag_bits, bag_text, bag_scale), positional like ExportWrapper
        bag_bits, bag_text, bag_scale = tensors
        rows = self.table.index_select(0, bag_bits.reshape(-1))  # exported as Gather
        text = bag_text.unsqueeze(1).expand(-1, self.k).reshape(-1)
        summed = rows.new_zeros(bag_scale.shape[0], self.width).index_add(0, text, rows)
        scaled = summed * bag_scale.unsqueeze(1).to(rows.dtype)
        return scaled + self.bias if self.folded else self.head(scaled)


def example(model, token_lists: list[list[str]]) -> tuple[Tensor, ...]:
    """The bag inputs of token lists (as the featurizer makes them from texts)."""
    flat = [t for seq in token_lists for t in seq]
    lengths = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
    ids = featurize.segment_ids(featurize.code_points("".join(flat)), np.cumsum(lengths) - lengths, lengths)
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum([len(seq) for seq in token_lists], out=offsets[1:])
    bits, weight = model.embed.id_codes(ids)[:2]
    inputs = featurize.bag_inputs(bits, weight, offsets, model.embed.num_bits, model.pool.bag_pooling)
    return tuple(torch.from_numpy(inputs[n]) for n in NAMES)
