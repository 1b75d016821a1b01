"""Configs of zoo-example's components (torch-free: ``zoo info`` and ``zoo list`` import this
module, never torch). ``dim`` and ``freeze`` come from ``ModuleConfig``; unknown keys are
rejected."""
from __future__ import annotations

from typing import Literal, Union

from pydantic import Field, field_validator

from zoo_core.config import ModuleConfig


class TokenShiftConfig(ModuleConfig):
    expand: int = Field(2, gt=0, description="hidden width of the key MLP = expand * dim (RWKV uses 4)")
    mix_init: float = Field(0.5, ge=0, le=1, description="initial share of the token itself (1 - share of its "
                                                        "left neighbour) in the token shift; learned per channel")


class PowerMeanConfig(ModuleConfig):
    powers: list[Union[Literal["max", "min"], int]] = Field(
        [1, "max", "min"], min_length=1,
        description="means to concatenate: positive integers p (1 = arithmetic mean, 3 = cubic mean), "
                    "'max' (p=+inf) and 'min' (p=-inf)")
    eps: float = Field(1e-6, gt=0, description="added before the 1/p root of p>1 means, keeping gradients finite")

    @field_validator("powers")
    @classmethod
    def _valid_powers(cls, powers):
        bad = [p for p in powers if isinstance(p, int) and p <= 0]
        if bad:
            raise ValueError(f"powers {bad}: integer powers must be positive (use 'min' for p=-inf)")
        if len(set(map(str, powers))) != len(powers):
            raise ValueError(f"powers={powers}: each mean may appear once")
        return powers
