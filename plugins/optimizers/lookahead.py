"""Lookahead around any optimizer component: k fast steps, then the slow weights move a
fraction alpha towards the fast ones and the fast weights restart from there.

Post: "Deep learning papers/notes 01" (Lookahead; with RAdam inside it is "Ranger").
Paper: Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back",
NeurIPS 2019, arXiv:1907.08610 (Algorithm 1):

    every k steps of the inner optimizer:  slow += alpha (fast - slow);  fast = slow

Grammar: ``optim=lookahead optim.inner=smorms3 optim.inner.beta2=0.99 optim.k=5 optim.lr=0.003``
(``lr``/``weight_decay`` go to the inner optimizer; ``train.lr`` sets ``lr`` as for any optim).
It shares the inner optimizer's param_groups (so LR schedules reach it) and keeps the slow
weights beside the inner state in one standard state_dict (slot ``lookahead_slow``), so the
trainer's pickle-free resume works. Contract: lookahead(cfg)(named_parameters) -> Optimizer.
"""
from __future__ import annotations

import torch
from torch.optim import Optimizer

from zoo_core.factory import build

from .configs import LookaheadConfig

SLOW = "lookahead_slow"


class Lookahead(Optimizer):
    def __init__(self, inner: Optimizer, k: int = 5, alpha: float = 0.5):
        if k < 1 or not 0 < alpha <= 1:
            raise ValueError(f"Lookahead: need k >= 1 and 0 < alpha <= 1 (got {k}, {alpha})")
        self.inner, self.k, self.alpha = inner, k, alpha
        super().__init__(inner.param_groups, inner.defaults)
        self.param_groups = inner.param_groups
        for group in self.param_groups:
            group.setdefault("lookahead_step", 0)
        self.slow: dict[torch.Tensor, torch.Tensor] = {p: p.detach().clone() for g in self.param_groups
                                                       for p in g["params"]}

    @torch.no_grad()
    def step(self, closure=None):
        loss = self.inner.step(closure)
        for group in self.param_groups:
            group["lookahead_step"] += 1
            if group["lookahead_step"] % self.k:
                continue
            for p in group["params"]:
                slow = self.slow[p]
                slow.add_(p - slow, alpha=self.alpha)
                p.copy_(slow)
        return loss

    def zero_grad(self, set_to_none: bool = True):
        self.inner.zero_grad(set_to_none=set_to_none)

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self):
        sd = self.inner.state_dict()
        state = {pid: dict(slots) for pid, slots in sd["state"].items()}
        for pid, p in enumerate(self._params()):
            state.setdefault(pid, {})[SLOW] = self.slow[p].clone()
        return {"state": state, "param_groups": sd["param_groups"]}

    def load_state_dict(self, state_dict):
        inner_state, slow = {}, {}
        for pid, slots in state_dict["state"].items():
            slots = dict(slots)
            if SLOW in slots:
                slow[int(pid)] = slots.pop(SLOW)
            if slots:
                inner_state[pid] = slots
        self.inner.load_state_dict({"state": inner_state, "param_groups": state_dict["param_groups"]})
        self.param_groups = self.inner.param_groups
        with torch.no_grad():
            for pid, p in enumerate(self._params()):
                if pid in slow:
                    self.slow[p] = slow[pid].to(device=p.device, dtype=p.dtype).clone()


def lookahead(cfg: LookaheadConfig):
    """The inner optimizer (a nested component, pinned in config.json) wrapped in Lookahead;
    ``lr``/``weight_decay`` set here win over the inner optimizer's own."""
    inner = cfg.inner
    fields = {k: v for k, v in (("lr", cfg.lr), ("weight_decay", cfg.weight_decay)) if v is not None}
    if fields:
        inner = inner.model_copy(update={"config": {**inner.config, **fields}})
        inner._validated = None
    make_inner = build(inner)

    def make(named_params):
        return Lookahead(make_inner(named_params), k=cfg.k, alpha=cfg.alpha)

    return make
