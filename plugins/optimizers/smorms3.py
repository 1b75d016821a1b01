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
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("SMORMS3 does not take sparse gradients; use a sparse+dense optimizer")
                grad = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                state = self.state[p]
                if not state:
                    state["mem"] = torch.ones_like(p)
                    state["g"] = torch.zeros_like(p)
                    state["g2"] = torch.zeros_like(p)
                mem, g, g2 = state["mem"], state["g"], state["g2"]
                r = 1.0 / (mem + 1.0)
                g.mul_(1 - r).addcmul_(r, grad)
                g2.mul_(1 - r).addcmul_(r, grad * grad)
                x = g * g / (g2 + eps)
                p.sub_(grad * x.clamp(max=lr) / (g2.sqrt() + eps))
                mem.mul_(1 - x).add_(1.0)
        return loss


def smorms3(cfg: SMORMS3Config):
    def build(named_params):
        return SMORMS3(param_groups(named_params, cfg.weight_decay, cfg.no_decay), lr=cfg.lr, eps=cfg.eps)

    return build
