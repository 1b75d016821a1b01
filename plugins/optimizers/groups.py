"""Weight-decay parameter groups, and the AdamW builder.

Posts: "PyTorch - Weight Decay Made Easy"; "Applying Weight Decay On Model Parameters"
Paper: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019

The posts: no decay for biases, for parameters that are vectors (here: whose *squeezed* shape
is at most 1-D, which also catches a (1, dim) cls token that a plain ``len(shape) == 1`` test
misses), for names on a skip list; frozen parameters are not given to the optimizer.
``closure_loss`` is the closure handling every hand-written optimizer's ``step`` shares.
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
