"""Configs of the built-in embedders (torch-free: ``zoo info`` reads them without torch)."""
from __future__ import annotations

from pydantic import Field

from zoo_core.config import ModuleConfig


class HashConfig(ModuleConfig):
    num_bits: int = Field(200, gt=0, description="length of each token's binary code = rows of the weight matrix")
    num_hashes: int = Field(4, gt=0, le=64, description="hash functions per token (bits set in its code)")
    seed: int = Field(0, ge=0, description="salt of the hash functions")
    cache_size: int = Field(1_000_000, ge=0, description="distinct tokens whose codes are cached (0: no cache)")
