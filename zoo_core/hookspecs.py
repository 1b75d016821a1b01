"""The hooks a zoo plugin implements. A plugin is a module named by an entry point in the
``zoo`` group; it defines functions marked ``@zoo_core.hookimpl``.

Each hook receives a ``register`` callback (llm/datasette style) instead of returning
values, so one plugin can register any number of things and zoo knows which
distribution registered each one.

Rule for plugin authors: the module an entry point names must stay cheap to import
(no torch at module level). Point ``factory=`` at the module that holds the torch code
with a ``"package.module:Class"`` string; zoo imports it only when the component is built.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("zoo")
hookimpl = pluggy.HookimplMarker("zoo")


@hookspec
def zoo_register_components(register):
    """Register components of the five kinds.

    ``register(kind, name, *, factory, config, summary, post="", paper="")`` where
    ``kind`` is one of ``embed, mixer, pool, loss, optim``; ``factory`` is a
    ``"module:attr"`` string (imported lazily) or a callable taking the validated config;
    ``config`` is a pydantic model class (a subclass of ``zoo_core.config.ComponentConfig``).
    """


@hookspec
def zoo_register_datasets(register):
    """Register datasets: ``register(name, *, loader, summary, license="", url="")``.

    ``loader`` is a ``"module:attr"`` string or callable returning a
    ``zoo_core.data.DatasetSplits``-compatible object when called with keyword options.
    """
