"""Configs of the built-in optimizers (torch-free)."""
from __future__ import annotations

from pydantic import Field

from zoo_core.config import ComponentConfig


class DecayConfig(ComponentConfig):
    weight_decay: float = Field(0.0, ge=0, description="L2 / decoupled weight decay for matrices (not biases, "
                                                       "not 1-D-after-squeeze parameters, not the skip list)")
    no_decay: list[str] = Field(default_factory=list, description="parameter-name wildcards never decayed, "
                                                                  "e.g. ['embed.*']")


class AdamWConfig(DecayConfig):
    lr: float = Field(1e-3, gt=0, description="learning rate")
    weight_decay: float = Field(0.01, ge=0, description="decoupled weight decay (see no_decay)")
    beta1: float = Field(0.9, ge=0, lt=1, description="first-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="second-moment decay")
    eps: float = Field(1e-8, gt=0, description="denominator epsilon")


class SMORMS3Config(DecayConfig):
    lr: float = Field(0.0025, gt=0, description="upper bound of the per-weight rate g²/g2")
    eps: float = Field(1e-16, gt=0, description="denominator epsilon (the post's value)")
