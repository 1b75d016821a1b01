"""Configs of the built-in mixers (torch-free)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zoo_core.config import ModuleConfig


class IdentityConfig(ModuleConfig):
    pass


class LambdaConfig(ModuleConfig):
    heads: int = Field(4, gt=0, description="query heads |h|; the value depth is dim / heads")
    dim_k: int = Field(16, gt=0, description="query/key depth |k|")
    normalize: Literal["softmax", "kernel"] = Field(
        "softmax", description="normalisation of the keys over the context: softmax (paper) or elu+1 kernel (post)")
    position_lambda: bool = Field(False, description="add position lambdas from relative position embeddings")
    window: int = Field(7, ge=0, description="position lambdas see tokens up to this many positions away")
    causal: bool = Field(False, description="position t sees only positions <= t")

    @model_validator(mode="after")
    def _heads_divide_dim(self):
        if self.dim % self.heads:
            raise ValueError(f"heads={self.heads} must divide dim={self.dim}; choose heads from "
                             f"{[h for h in range(1, self.dim + 1) if self.dim % h == 0][:8]}")
        return self
