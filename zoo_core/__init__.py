"""zoo: a plugin-based model zoo for small, CPU-efficient PyTorch NLP models.

Importing ``zoo_core`` is cheap (no torch): the API below loads what it needs on first use.

    import zoo_core
    zoo_core.list_components("mixer:*")
    mixer = zoo_core.create("mixer", "lambda", dim=64)
    model = zoo_core.build(["embed=hash", "mixer=lambda"])
    model = zoo_core.load("runs/default")        # a folder or hf:ORG/NAME[@REV]

No public name here is also the name of a submodule, so ``zoo_core.compose`` stays the
function after any submodule has been imported.
"""
from __future__ import annotations

from .errors import ZooError
from .hookspecs import hookimpl

__all__ = ["ZooError", "hookimpl", "list_components", "info", "create", "build", "compose", "load", "save",
           "get_registry"]


def list_components(pattern: str = "*"):
    """Registered components whose ``kind:name`` matches a wildcard, e.g. ``'mixer:*'``."""
    from .registry import get_registry

    return get_registry().list(pattern)


def info(qualified: str):
    """The registry entry for ``kind:name`` (or ``kind:dist:name``)."""
    from .registry import get_registry

    kind, _, name = qualified.partition(":")
    return get_registry().resolve(kind, name)


def create(kind: str, name: str, **fields):
    """A ready component: ``create("mixer", "lambda", dim=64, heads=4)``."""
    from .factory import create as _create

    return _create(kind, name, **fields)


def compose(overrides=(), registry=None):
    """The validated run spec (a RunSpec) of ``key=value`` overrides, without building anything."""
    from .overrides import compose as _compose

    return _compose(overrides, registry)


def build(overrides=(), registry=None):
    """The composed, untrained model (a ZooModel) of ``key=value`` overrides."""
    from .model import build as _build

    return _build(overrides, registry)


def load(ref, registry=None):
    """A saved model: a checkpoint folder or ``hf:ORG/NAME[@REV]``."""
    from .model import ZooModel

    return ZooModel.from_pretrained(ref, registry)


def save(model, directory):
    """Write a model's weights, config.json and model card to ``directory`` (``model.save_pretrained``)."""
    return model.save_pretrained(directory)


def get_registry(refresh: bool = False):
    """The registry of every installed plugin's components, datasets, tasks and recipes."""
    from .registry import get_registry as _get

    return _get(refresh)
