"""Configs of the built-in poolers (torch-free)."""
from __future__ import annotations

from pydantic import Field, model_validator

from zoo_core.config import ModuleConfig


class MeanConfig(ModuleConfig):
    pass


class SeedAttentionConfig(ModuleConfig):
    heads: int = Field(1, gt=0, description="seed heads; each attends over its own dim/heads slice (1 keeps "
                                            "decisions traceable to tokens)")
    scale: float = Field(10.0, gt=0, description="constant that stretches cosine scores from [-1, 1] to "
                                                 "[-scale, scale] before the softmax")

    @model_validator(mode="after")
    def _heads_divide_dim(self):
        if self.dim % self.heads:
            raise ValueError(f"heads={self.heads} must divide dim={self.dim}")
        return self
