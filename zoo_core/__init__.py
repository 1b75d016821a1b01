"""zoo: a plugin-based model zoo for small, CPU-efficient PyTorch NLP models.

Importing ``zoo_core`` is cheap (no torch): the API below loads what it needs on first use.

    import zoo_core
    zoo_core.list_components("mixer:*")
    mixer = zoo_core.create("mixer", "lambda", dim=64)
    model = zoo_core.build(["embed=hash", "mixer=lambda"])
"""
from __future__ import annotations

from .errors import ZooError
from .hookspecs import hookimpl

__all__ = ["ZooError", "hookimpl", "list_components", "create", "build", "compose", "load",
           "save", "get_registry", "info"]

_LAZY = {
    "create": ("compose", "create"),
    "build": ("compose", "build"),
    "compose": ("spec", "compose"),
    "get_registry": ("registry", "get_registry"),
    "save": ("checkpoint", "save_model"),
}


def list_components(pattern: str = "*"):
    """Registered components whose ``kind:name`` matches a wildcard, e.g. ``'mixer:*'``."""
    from .registry import get_registry

    return get_registry().list(pattern)


def info(qualified: str):
    """The registry entry for ``kind:name`` (or ``kind:dist:name``)."""
    from .registry import get_registry

    kind, _, name = qualified.partition(":")
    return get_registry().resolve(kind, name)


def load(path):
    """Load a saved zoo model (a checkpoint folder)."""
    from .checkpoint import load_model

    return load_model(path)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module 'zoo_core' has no attribute {name!r}")
