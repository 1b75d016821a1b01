"""SMORMS3: Simon Funk's RMSprop variant with no beta to tune.

Post: "Implementing The SMORMS3 Optimizer in PyTorch"
Paper: Funk, "RMSprop loses to SMORMS3 - Beware the Epsilon!" (sifter.org, 2015,
sifter.org/~simon/journal/20150420.html), the source of the equations

Per weight, with state mem (starts at 1), g and g2 (start at 0):

    r    = 1 / (mem + 1)
    g    = (1 - r) g  + r grad
    g2   = (1 - r) g2 + r grad²
    x    = g² / (g2 + eps)
    p   -= grad * min(lr, x) / (sqrt(g2) + eps)
    mem  = 1 + mem (1 - x)

``weight_decay`` adds L2 (``grad += wd * p``) per parameter group.
Contract: smorms3(cfg)(named_parameters) -> torch.optim.Optimizer.
"""
from __future__ import annotations

import torch

from .configs import SMORMS3Config
from .groups import EagerOptimizer, closure_loss, param_groups


class SMORMS3(EagerOptimizer):
    def __init__(self, params, lr: float = 0.0025, eps: float = 1e-16, weight_decay: float = 0.0):
        if lr <= 0 or eps <= 0 or weight_decay < 0:
            raise ValueError(f"SMORMS3: need lr > 0, eps > 0, weight_decay >= 0 (got {lr}, {eps}, {weight_decay})")
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("SMORMS3 does not take sparse gradients; use a sparse+dense optimizer")
            if params:
                self._update(params, group["lr"], group["eps"], group["weight_decay"])
        return loss

    def _update(self, params, lr, eps, wd):
        """The equations of the module docstring for all of a group's parameters at once
        (torch._foreach_*: one kernel launch per operation and group, not per parameter)."""
        grads = [p.grad for p in params]
        if wd:
            grads = torch._foreach_add(grads, params, alpha=wd)
        for p in params:
            if not self.state[p]:
                self.state[p].update(mem=torch.ones_like(p), g=torch.zeros_like(p), g2=torch.zeros_like(p))
        mem, g, g2 = ([self.state[p][k] for p in params] for k in ("mem", "g", "g2"))
        r = torch._foreach_add(mem, 1.0)
        torch._foreach_reciprocal_(r)                      # r = 1 / (mem + 1)
        keep = torch._foreach_neg(r)
        torch._foreach_add_(keep, 1.0)                     # 1 - r
        torch._foreach_mul_(g, keep)
        torch._foreach_addcmul_(g, r, grads)               # g = (1 - r) g + r grad
        torch._foreach_mul_(g2, keep)
        torch._foreach_addcmul_(g2, r, torch._foreach_mul(grads, grads))
        x = torch._foreach_mul(g, g)
        torch._foreach_div_(x, torch._foreach_add(g2, eps))  # x = g² / (g2 + eps)
        change = torch._foreach_clamp_max(x, lr)
        torch._foreach_mul_(change, grads)
        root = torch._foreach_sqrt(g2)
        torch._foreach_add_(root, eps)
        torch._foreach_div_(change, root)
        torch._foreach_sub_(params, change)                 # p -= grad min(lr, x) / (sqrt(g2) + eps)
        torch._foreach_neg_(x)
        torch._foreach_add_(x, 1.0)
        torch._foreach_mul_(mem, x)
        torch._foreach_add_(mem, 1.0)                      # mem = 1 + mem (1 - x)


def smorms3(cfg: SMORMS3Config):
    def build(named_params):
        return SMORMS3(param_groups(named_params, cfg.weight_decay, cfg.no_decay), lr=cfg.lr, eps=cfg.eps)

    return build
