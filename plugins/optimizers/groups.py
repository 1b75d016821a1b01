"""Weight-decay parameter groups, and the AdamW builder.

Posts: "PyTorch - Weight Decay Made Easy"; "Applying Weight Decay On Model Parameters"
Paper: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019

The posts: no decay for biases, for parameters that are vectors (here: whose *squeezed* shape
is at most 1-D, which also catches a (1, dim) cls token that a plain ``len(shape) == 1`` test
misses), for names on a skip list; frozen parameters are not given to the optimizer.
``closure_loss`` is the closure handling every hand-written optimizer's ``step`` shares, and
``EagerOptimizer`` their base class.
Contract: builder(named_parameters) -> torch.optim.Optimizer.
"""
from __future__ import annotations

import fnmatch
from typing import Callable, Iterable

import torch
from torch import nn

from .configs import AdamWConfig


def closure_loss(closure) -> torch.Tensor | None:
    """What ``Optimizer.step(closure)`` returns: the closure's loss, evaluated with gradients on."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def _unwrapped(name: str):
    method = getattr(torch.optim.Optimizer, name)
    return getattr(method, "__wrapped__", method)


class EagerOptimizer(torch.optim.Optimizer):
    """torch.optim.Optimizer whose bookkeeping methods run without torch's dynamo guard.

    torch wraps ``add_param_group``, ``zero_grad``, ``state_dict`` and ``load_state_dict`` in
    ``torch._disable_dynamo``, whose first call imports ``torch._dynamo`` (~1.2 s of CPU on the
    reference machine, a tenth of the default recipe's training) only to mark them "never
    compile". zoo compiles models (``compile=true``), never optimizers, so its hand-written
    optimizers call the same functions unwrapped (``__wrapped__``, set by ``functools.wraps``;
    where a torch version has no wrapper the method itself)."""

    def add_param_group(self, param_group):
        return _unwrapped("add_param_group")(self, param_group)

    def zero_grad(self, set_to_none: bool = True):
        return _unwrapped("zero_grad")(self, set_to_none)

    def state_dict(self):
        return _unwrapped("state_dict")(self)

    def load_state_dict(self, state_dict):
        return _unwrapped("load_state_dict")(self, state_dict)


def decays(name: str, param: nn.Parameter, skip: Iterable[str] = (), decay_all: bool = False) -> bool:
    if not decay_all and (name.endswith("bias") or param.squeeze().dim() <= 1):
        return False
    return not any(fnmatch.fnmatchcase(name, pattern) for pattern in skip)


def param_groups(named_params: Iterable[tuple[str, nn.Parameter]], weight_decay: float,
                 skip: Iterable[str] = (), decay_all: bool = False) -> list[dict]:
    decay, no_decay = [], []
    for name, param in named_params:
        if not param.requires_grad:
            continue
        (decay if decays(name, param, skip, decay_all) else no_decay).append(param)
    groups = [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]
    return [g for g in groups if g["params"]]


def adamw(cfg: AdamWConfig) -> Callable[[Iterable], torch.optim.Optimizer]:
    def build(named_params):
        return torch.optim.AdamW(param_groups(named_params, cfg.weight_decay, cfg.no_decay, cfg.decay_all), lr=cfg.lr,
                                 betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)

    return build
