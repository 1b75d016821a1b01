"""Switch layer: a token-wise feed-forward layer with E experts, each token routed to one.

Post: "Deep learning notes 03: Switch, Feedback, and generally transformers" (each token uses
one of several feed-forward layers; routing softmax, then a hard "argmax").
Paper: Fedus, Zoph, Shazeer, "Switch Transformers: Scaling to Trillion Parameter Models with
Simple and Efficient Sparsity", JMLR 2022 (arXiv:2101.03961), section 2.

For the N real tokens x of a batch (padding is never routed, counted or charged):

    p(x)     = softmax(W_r x)                         router, computed in float32 (section 2.4)
    i(x)     = argmax_i p_i(x)                        top-1 expert
    y(x)     = p_i(x) * E_i(x),  E_i(x) = W2_i relu(W1_i x)    the gate value scales the output,
                                                      so the router gets a gradient
    capacity = max(1, int(capacity_factor * N / E))   slots per expert (Mesh TF's rounding); a
                                                      token over its expert's capacity (in batch
                                                      order) is dropped: y = 0, and the residual of
                                                      the network (x + mixer(x)) passes it through
    aux      = alpha * E * sum_i f_i P_i              f_i = share of tokens whose argmax is i (before
                                                      dropping, as the paper's Mesh TF code), P_i =
                                                      mean router probability of i; stored as
                                                      ``self.aux_loss``, which the tasks add to the loss
    init     = truncated normal, std sqrt(0.1 / fan_in), cut at 2 std (section 2.4: a tenth of
               the default scale)

Experts are computed batched, never per token: the kept tokens are scattered into an
(E, capacity, dim) buffer by their rank within their expert (a cumulative sum), every expert
runs as one batched matrix product over its slots, and the outputs are gathered back.
In eval, by default (``eval_capacity_factor=null``) nothing is dropped, so each token's output
depends on that token alone and a prediction never depends on its batch; the paper also
evaluates with a capacity (set ``eval_capacity_factor``). ``codebook_usage()`` reports, for the
last forward pass, the share of experts that got tokens, the share of tokens dropped and
the perplexity of the routing distribution (``zoo doctor`` shows it).

Not token mixing: a switch layer maps each token on its own; stack it after a mixer that
mixes tokens, e.g. ``mixer=[self_attention,switch]``. Deviations: T5-style experts without
biases; no expert dropout; one device, so no all-to-all communication.
Shape contract: (B, T, dim), mask (B, T) bool -> (B, T, dim), 0 at padding and at dropped tokens.
"""
from __future__ import annotations

import math

import torch
from einops import einsum
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from .configs import SwitchConfig


def truncated_normal_(weight: Tensor, scale: float, fan_in: int) -> Tensor:
    """The paper's initialisation: N(0, s/fan_in) truncated at two standard deviations."""
    std = math.sqrt(scale / fan_in)
    return nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


class SwitchMixer(Mixer):
    def __init__(self, *, dim: int = 64, experts: int = 4, hidden: int | None = None,
                 capacity_factor: float = 1.25, eval_capacity_factor: float | None = None,
                 aux_weight: float = 0.01, init_scale: float = 0.1):
        super().__init__()
        self.dim, self.experts, self.hidden = dim, experts, hidden or 2 * dim
        self.capacity_factor, self.eval_capacity_factor = capacity_factor, eval_capacity_factor
        self.aux_weight, self.init_scale = aux_weight, init_scale
        self.causal = eval_capacity_factor is None  # in eval; in training capacity couples the batch's tokens
        self.router = nn.Parameter(torch.empty(experts, dim))
        self.w1 = nn.Parameter(torch.empty(experts, dim, self.hidden))
        self.w2 = nn.Parameter(torch.empty(experts, self.hidden, dim))
        truncated_normal_(self.router, init_scale, dim)
        truncated_normal_(self.w1, init_scale, dim)
        truncated_normal_(self.w2, init_scale, self.hidden)
        self.aux_loss: Tensor | None = None
        self._last: dict[str, Tensor] = {}

    @classmethod
    def from_config(cls, cfg: SwitchConfig) -> "SwitchMixer":
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})

    def capacity(self, tokens: int) -> int | None:
        """Slots per expert for a batch of ``tokens`` real tokens (None: no limit)."""
        factor = self.capacity_factor if self.training else self.eval_capacity_factor
        return None if factor is None else max(1, int(factor * tokens / self.experts))

    def route(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(N, dim) -> router probabilities (N, E) in float32, top-1 expert (N,), gate value (N,)."""
        probs = F.linear(tokens.float(), self.router.float()).softmax(-1)
        gate, expert = probs.max(-1)
        return probs, expert, gate

    def dispatch(self, tokens: Tensor) -> dict[str, Tensor]:
        """Routing of N real tokens (N, dim), in batch order: router ``probs`` (N, E), top-1
        ``expert`` and its ``gate`` probability (N,), ``rank`` within that expert (N,), the
        ``kept`` token indices (within capacity), their ``slot`` in the (E * slots) buffer,
        ``slots`` per expert, and the load-balancing ``aux`` loss."""
        n, e = len(tokens), self.experts
        probs, expert, gate = self.route(tokens)
        onehot = F.one_hot(expert, e)
        counts = onehot.sum(0)
        f = counts.float() / max(n, 1)
        aux = self.aux_weight * e * (f * probs.mean(0)).sum()
        rank = (onehot.cumsum(0) - 1).gather(1, expert.unsqueeze(1)).squeeze(1)  # position within its expert
        cap = self.capacity(n)
        slots = cap if cap is not None else max(int(counts.max()) if n else 1, 1)
        kept = (rank < slots).nonzero().squeeze(1)
        return {"probs": probs, "expert": expert, "gate": gate, "rank": rank, "kept": kept, "counts": counts,
                "slot": expert[kept] * slots + rank[kept], "slots": torch.tensor(slots), "aux": aux}

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, t, d = x.shape
        where = mask.reshape(-1).nonzero().squeeze(1)  # real tokens, in batch order
        tokens = x.reshape(b * t, d).index_select(0, where)
        n, e = len(tokens), self.experts
        plan = self.dispatch(tokens)
        kept, slot, slots = plan["kept"], plan["slot"], int(plan["slots"])
        self.aux_loss = plan["aux"] if n else x.sum() * 0
        dispatched = tokens.new_zeros(e * slots, d).index_copy(0, slot, tokens[kept]).view(e, slots, d)
        h = F.relu(einsum(dispatched, self.w1, "e c d, e d h -> e c h"))
        out = einsum(h, self.w2, "e c h, e h d -> e c d").reshape(e * slots, d)
        y = out.index_select(0, slot) * plan["gate"][kept].unsqueeze(1).to(out.dtype)
        routed = tokens.new_zeros(n, d).index_copy(0, kept, y)
        self._last = {"counts": plan["counts"].detach(), "dropped": torch.tensor(n - len(kept)),
                      "tokens": torch.tensor(n)}
        return x.new_zeros(b * t, d).index_copy(0, where, routed).view(b, t, d)

    @torch.no_grad()
    def codebook_usage(self) -> dict[str, float]:
        """Expert usage in the last forward pass: {"usage": share of experts that got a token,
        "used", "size": experts that got a token / all, "dropped": share of tokens over capacity,
        "perplexity": exp(entropy of the routing shares) (= experts when balanced)}."""
        if not self._last:
            return {"usage": 0.0, "used": 0, "size": self.experts, "dropped": 0.0, "perplexity": 0.0}
        counts, n = self._last["counts"].float(), max(int(self._last["tokens"]), 1)
        share = counts / n
        entropy = -(share * share.clamp_min(1e-12).log()).sum()
        used = int((counts > 0).sum())
        return {"usage": used / self.experts, "used": used, "size": self.experts,
                "dropped": int(self._last["dropped"]) / n, "perplexity": float(entropy.exp())}
