"""Configs of the built-in optimizers (torch-free)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zoo_core.config import ComponentConfig, ComponentSpec, component_field


class DecayConfig(ComponentConfig):
    weight_decay: float = Field(0.0, ge=0, description="L2 / decoupled weight decay for matrices (not biases, "
                                                       "not 1-D-after-squeeze parameters, not the skip list)")
    no_decay: list[str] = Field(default_factory=list, description="parameter-name wildcards never decayed, "
                                                                  "e.g. ['embed.*']")
    decay_all: bool = Field(False, description="decay biases and 1-D parameters (norm gains) too, as torch's "
                                               "optimizers do by default (the grokking recipe needs it: otherwise "
                                               "the norm gains undo the decay of the matrices)")


class AdamWConfig(DecayConfig):
    lr: float = Field(1e-3, gt=0, description="learning rate")
    weight_decay: float = Field(0.01, ge=0, description="decoupled weight decay (see no_decay)")
    beta1: float = Field(0.9, ge=0, lt=1, description="first-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="second-moment decay")
    eps: float = Field(1e-8, gt=0, description="denominator epsilon")


class SMORMS3Config(DecayConfig):
    lr: float = Field(0.0025, gt=0, description="upper bound of the per-weight rate g²/g2")
    eps: float = Field(1e-16, gt=0, description="denominator epsilon (the post's value)")


class SGDConfig(DecayConfig):
    lr: float = Field(0.1, gt=0, description="learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="heavy-ball momentum")
    nesterov: bool = Field(False, description="Nesterov momentum")


class AdamConfig(DecayConfig):
    lr: float = Field(1e-3, gt=0, description="learning rate")
    beta1: float = Field(0.9, ge=0, lt=1, description="first-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="second-moment decay")
    eps: float = Field(1e-8, gt=0, description="denominator epsilon")


class RAdamConfig(AdamConfig):
    lr: float = Field(5e-3, gt=0, description="learning rate (higher than Adam's: the first steps are un-adapted "
                                              "momentum SGD until the variance estimate is trustworthy)")
    decoupled: bool = Field(False, description="decoupled (AdamW-style) weight decay instead of L2")


class RMSpropConfig(DecayConfig):
    lr: float = Field(1e-3, gt=0, description="learning rate")
    alpha: float = Field(0.99, ge=0, lt=1, description="decay of the squared-gradient average")
    eps: float = Field(1e-8, gt=0, description="denominator epsilon")
    momentum: float = Field(0.0, ge=0, lt=1, description="momentum")


class AdagradConfig(DecayConfig):
    lr: float = Field(0.01, gt=0, description="learning rate")
    eps: float = Field(1e-10, gt=0, description="denominator epsilon")


class SparseDenseConfig(AdamConfig):
    weight_decay: float = Field(0.0, ge=0, description="L2 weight decay of the dense parameters (the sparse ones, "
                                                       "like SparseAdam, get none)")
    sparse_rule: Literal["adam", "rowwise_adagrad"] = Field("adam", description=(
        "the update of sparse-gradient tables: adam = SparseAdam's lazy Adam (two moment tables as large as the "
        "table); rowwise_adagrad = one AdaGrad accumulator per row (a vector; the update touches the table only)"))
    sparse_lr_scale: float = Field(1.0, gt=0, description="the sparse tables' learning rate is lr times this "
                                                          "(the schedule applies to both)")


class SparseSGDConfig(DecayConfig):
    lr: float = Field(0.1, gt=0, description="learning rate")
    momentum: float = Field(0.0, ge=0, lt=1, description="heavy-ball momentum of the dense parameters (sparse rows "
                                                         "take plain SGD steps, as torch.optim.SGD without momentum)")
    weight_decay: float = Field(0.0, ge=0, description="L2 weight decay of the dense parameters")


class LookaheadConfig(ComponentConfig):
    inner: ComponentSpec = component_field("optim", "smorms3", description=(
        "the fast optimizer: any optim component but lookahead, e.g. smorms3, radam (= Ranger), adamw, sgd, "
        "sparse_dense; its own fields: optim.inner.FIELD=..."))
    lr: float | None = Field(None, gt=0, description="the inner optimizer's learning rate (null: its default)")
    weight_decay: float | None = Field(None, ge=0, description="the inner optimizer's weight decay (null: its default)")
    k: int = Field(5, ge=1, description="fast steps between slow-weight updates")
    alpha: float = Field(0.5, gt=0, le=1, description="slow-weight step: slow += alpha (fast - slow)")

    @model_validator(mode="after")
    def _not_itself(self):
        if self.inner.name == "lookahead":
            raise ValueError("Lookahead wraps another optimizer; choose e.g. optim.inner=radam or smorms3")
        return self
