"""torch optimizers by name, each with the weight-decay groups of groups.py.

Posts: "PyTorch - Weight Decay Made Easy"; "Applying Weight Decay On Model Parameters"

The posts give the weight-decay groups. Each optimizer's own docstring cites its paper (and
RAdam its post). ``weight_decay`` is L2 (added to the gradient) except in ``adamw`` and ``radam decoupled=true``.
Contract: NAME(cfg)(named_parameters) -> torch.optim.Optimizer.
"""
from __future__ import annotations

import torch

from .groups import param_groups


def _groups(cfg, named_params):
    return param_groups(named_params, cfg.weight_decay, cfg.no_decay, getattr(cfg, "decay_all", False))


def sgd(cfg):
    """Paper: Sutskever et al., "On the importance of initialization and momentum in deep
    learning", ICML 2013"""
    return lambda named: torch.optim.SGD(_groups(cfg, named), lr=cfg.lr, momentum=cfg.momentum,
                                         nesterov=cfg.nesterov and cfg.momentum > 0)


def adam(cfg):
    """Paper: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015"""
    return lambda named: torch.optim.Adam(_groups(cfg, named), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)


def radam(cfg):
    """Posts: "PyTorch - Weight Decay Made Easy"; "Applying Weight Decay On Model Parameters";
    "Deep learning papers/notes 01"
    Paper: Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020"""
    return lambda named: torch.optim.RAdam(_groups(cfg, named), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                                           decoupled_weight_decay=cfg.decoupled)


def rmsprop(cfg):
    """Paper: Tieleman & Hinton, "Lecture 6.5 - RMSprop", 2012"""
    return lambda named: torch.optim.RMSprop(_groups(cfg, named), lr=cfg.lr, alpha=cfg.alpha, eps=cfg.eps,
                                             momentum=cfg.momentum)


def adagrad(cfg):
    """Paper: Duchi, Hazan, Singer, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization", JMLR 2011"""
    return lambda named: torch.optim.Adagrad(_groups(cfg, named), lr=cfg.lr, eps=cfg.eps)
