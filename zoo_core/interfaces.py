"""The contracts of the five component kinds. A component class takes keyword arguments
matching its config's fields (``LambdaMixer(dim=64, heads=4)``) and is built from its
validated pydantic config by ``from_config`` (inherited, ``FromConfig``); an optimizer maker
is a plain function called with the config.

Shapes: B batch, T tokens, D model width (``dim``). ``mask`` is a bool tensor (B, T),
True at real tokens, False at padding. Every sequence has at least one real token.

- Embedder: ``encode(list of token lists) -> dict of tensors`` (numericalisation, no
  gradients, includes ``"mask"``), then ``forward(inputs) -> (B, T, D)``. ``embed(tokens)``
  does both. Optional ``fit(token_lists)`` builds state from training data (e.g. a
  vocabulary); such state is saved as JSON via ``state_json``/``load_state_json``.
- Mixer: ``forward(x (B, T, D), mask) -> (B, T, D)``. Outputs at real positions must not
  depend on padded positions.
- Pooler: ``forward(x (B, T, D), mask) -> (pooled (B, out_dim), weights | None)`` where
  weights, when given, are (B, T) or (B, H, T), sum to 1 over real tokens and are 0 on
  padding. ``out_dim`` gives the pooled width.
- Head (the output layer): built with ``in_dim`` (the pooler's ``out_dim``) and
  ``num_classes`` besides its config; ``forward(pooled (B, in_dim)) -> scores (B, C)``, read
  as logits (argmax predicts; softmax gives the reported probabilities). A head whose
  ``local_rule`` is True learns by its own rule, not by backpropagation: the trainer calls
  ``update(pooled, target)`` after each step and ``refit(vectors (N, in_dim), target (N,))``
  with the whole training set's pooled vectors at each epoch's end (either may do nothing);
  its ``probe`` (an ``nn.Linear`` or None) is what the loss trains the features through.
- Loss: ``forward(outputs, target) -> scalar``; ``outputs`` is the dict a ZooModel returns
  (``logits``, ``pooled``, ``states``, ``mask``). ``needs_head`` says whether it scores class
  logits (a linear output layer is added) or the pooled vectors themselves.
- Optimizer: a callable ``(named_parameters) -> torch.optim.Optimizer``.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor, nn


class FromConfig:
    """``from_config(cfg)``: the component from its validated config, each field (but ``freeze``,
    which the core applies) passed as the keyword argument of the same name. Override it only
    where fields do not map one to one onto the constructor's arguments."""

    @classmethod
    def from_config(cls, cfg):
        return cls(**{f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"})


class Embedder(FromConfig, nn.Module):
    dim: int
    # the id layout ``encode_ids(ids, offsets)`` consumes (zoo_core.batches): "token_id64" = the flat
    # uint64 token ids of zoo_core.featurize; None: only token strings through ``encode``
    id_layout: str | None = None

    def encode(self, batch: list[list[str]]) -> dict[str, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def embed(self, batch: list[list[str]]) -> tuple[Tensor, Tensor]:
        inputs = self.encode(batch)
        inputs = {k: v.to(self._device()) for k, v in inputs.items()}
        return self(inputs), inputs["mask"]

    def fit(self, token_lists: Iterable[list[str]]) -> None:
        """Build data-dependent state before training (default: none)."""

    def state_json(self) -> dict[str, Any]:
        """JSON-serialisable non-tensor state saved with the checkpoint (default: none)."""
        return {}

    def load_state_json(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} takes no JSON state, got keys {sorted(state)}")

    def _device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")


class Mixer(FromConfig, nn.Module):
    dim: int

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class Pooler(FromConfig, nn.Module):
    dim: int
    bag_pooling: str | None = None  # "mean" or "sum": the pooler is that average/sum (zoo_core.bag)

    @property
    def out_dim(self) -> int:
        return self.dim

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor | None]:  # pragma: no cover
        raise NotImplementedError


class Head(nn.Module):
    in_dim: int
    num_classes: int
    local_rule: bool = False  # learns by update()/refit(), not by gradients
    # a local-rule head sets the attribute ``probe`` (nn.Linear or None) in its constructor; no
    # class-level default: it would shadow the submodule nn.Module registers under that name

    @classmethod
    def from_config(cls, cfg, *, in_dim: int, num_classes: int):
        fields = {f: getattr(cfg, f) for f in type(cfg).model_fields if f != "freeze"}
        return cls(in_dim=in_dim, num_classes=num_classes, **fields)

    def forward(self, pooled: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, pooled: Tensor, target: Tensor) -> None:
        """One training step's local learning rule (a local_rule head; default: nothing)."""

    def refit(self, vectors: Tensor, target: Tensor) -> None:
        """Rebuild from the whole training set's pooled vectors at an epoch's end (default: nothing)."""


class Loss(FromConfig, nn.Module):
    needs_head: bool = True
    uses_states: bool = True  # reads outputs["states"]/["mask"]; False lets bag models skip them (zoo_core.bag)

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError


def pad_batch(seqs: list[list[Any]], pad: Any = 0) -> tuple[list[list[Any]], Tensor]:
    """Right-pad lists to the longest length (at least 1); return them and the bool mask."""
    longest = max([len(s) for s in seqs] + [1])
    padded = [list(s) + [pad] * (longest - len(s)) for s in seqs]
    mask = torch.tensor([[i < len(s) for i in range(longest)] for s in seqs], dtype=torch.bool)
    return padded, mask
