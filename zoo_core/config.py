"""Base classes for component configs (pydantic v2, torch-free so that ``zoo info`` stays fast).

Every component config rejects unknown keys and checks types; a field's ``description``
is what ``zoo info`` shows.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ComponentConfig(BaseModel):
    """Config of a loss or an optimizer (no model width)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModuleConfig(ComponentConfig):
    """Config of an embedder, mixer or pooler: all share the model width ``dim``."""

    dim: int = Field(64, gt=0, description="model width; set it for the whole model with the top-level dim=")
    freeze: bool = Field(False, description="freeze this component's weights (requires_grad=False)")
