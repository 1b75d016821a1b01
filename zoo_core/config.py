"""Base classes for component configs (pydantic v2, torch-free so that ``zoo info`` stays fast).

Every component config rejects unknown keys and checks types; a field's ``description``
is what ``zoo info`` shows.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ComponentConfig(BaseModel):
    """Config of a loss or an optimizer (no model width)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModuleConfig(ComponentConfig):
    """Config of an embedder, mixer or pooler: all share the model width ``dim``."""

    dim: int = Field(64, gt=0, description="model width; set it for the whole model with the top-level dim=")
    freeze: bool = Field(False, description="freeze this component's weights (requires_grad=False)")


# ---- shared validators: config validators and component constructors both call these --------
def divisors(n: int, limit: int = 8) -> list[int]:
    """The first ``limit`` divisors of ``n`` (what an error message offers instead)."""
    return [d for d in range(1, n + 1) if n % d == 0][:limit]


def heads_divide_dim(dim: int, heads: int, name: str = "heads") -> None:
    """Every head (or group) owns a dim/heads slice: ``heads`` must divide ``dim``."""
    if dim % heads:
        raise ValueError(f"{name}={heads} must divide dim={dim}; choose {name} from {divisors(dim)} or change dim")


class HeadsConfig(ModuleConfig):
    """A module config whose ``heads`` (each subclass declares the field, with its own default
    and description) must divide ``dim``: every head owns a dim/heads slice."""

    @model_validator(mode="after")
    def _heads_divide_dim(self):
        heads_divide_dim(self.dim, self.heads)
        return self
