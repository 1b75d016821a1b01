"""Configs of the built-in poolers (torch-free)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from zoo_core.config import HeadsConfig, ModuleConfig


class MeanConfig(ModuleConfig):
    pass


class SeedAttentionConfig(HeadsConfig):
    heads: int = Field(1, gt=0, description="seed heads; each attends over its own dim/heads slice (1 keeps "
                                            "decisions traceable to tokens)")
    scale: float = Field(10.0, gt=0, description="constant that stretches cosine scores from [-1, 1] to "
                                                 "[-scale, scale] before the softmax")


class MaxConfig(ModuleConfig):
    pass


class LastConfig(ModuleConfig):
    pass


class LatentAttentionConfig(HeadsConfig):
    num_latents: int = Field(4, gt=0, description="learned latent queries L; each summarises its own aspect of "
                                                  "the set")
    heads: int = Field(1, gt=0, description="attention heads of the cross-attention (must divide dim)")
    reduce: Literal["flatten", "mean"] = Field("flatten", description="flatten the L latents (out_dim = L*dim) "
                                                                      "or average them (out_dim = dim)")
    scoring: Literal["dot", "cosine"] = Field("dot", description="scaled dot product (Perceiver) or "
                                                                 "scale * cosine (Tales From The Attention World)")
    scale: float = Field(10.0, gt=0, description="constant multiplying cosine scores (scoring=cosine)")
    mlp_ratio: int = Field(1, ge=0, description="hidden width of the residual MLP after the cross-attention, "
                                                "in multiples of dim (0: no MLP)")


class PrototypeAttentionConfig(ModuleConfig):
    scale: float = Field(10.0, gt=0, description="constant that stretches cosine scores from [-1, 1] to "
                                                 "[-scale, scale] before the softmax")
    query: Literal["learned", "mean"] = Field(
        "learned", description="pooler mode: the query is a learned vector, or the masked mean of the tokens "
                               "(a centre conditioned on the sequence itself)")
