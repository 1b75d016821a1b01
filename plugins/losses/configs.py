"""Configs of the built-in losses (torch-free)."""
from __future__ import annotations

from pydantic import Field

from zoo_core.config import ComponentConfig


class CrossEntropyConfig(ComponentConfig):
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="share of probability mass spread over all classes")
