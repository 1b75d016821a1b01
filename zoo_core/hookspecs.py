"""The hooks a zoo plugin implements. A plugin is a module named by an entry point in the
``zoo`` group; it defines functions marked ``@zoo_core.hookimpl``. zoo's own components,
datasets, tasks, recipes and commands register through these same hooks.

Each hook receives a ``register`` callback (llm/datasette style) instead of returning
values, so one plugin can register any number of things and zoo knows which distribution
registered each one.

Rule for plugin authors: the module an entry point names must stay cheap to import (no
torch at module level). Point ``factory=``/``loader=``/``task=`` at the module that holds
the torch code with a ``"package.module:attr"`` string; zoo imports it only when used.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("zoo")
hookimpl = pluggy.HookimplMarker("zoo")


@hookspec
def zoo_register_components(register):
    """``register(kind, name, *, factory, config, summary="", syntax=None, post="", paper="")``.

    ``kind``: embed, mixer, pool, loss or optim. ``factory``: ``"module:attr"`` (imported
    lazily) or a callable; zoo calls ``factory.from_config(cfg)`` when it has one, else
    ``factory(cfg)``. ``config``: a pydantic model class (``zoo_core.config.ComponentConfig``).
    The citation is read from the factory module's docstring (``Post:`` and ``Paper:``
    lines); ``post``/``paper`` override it. ``syntax``: optional ``"module:attr"`` function
    ``(text, fields, registry) -> config fields or None`` that claims references which are not
    plain names (the combined loss reads ``cross_entropy+0.1*token_contrastive``).
    """


@hookspec
def zoo_register_datasets(register):
    """``register(name, *, loader, summary="", license="", url="")``: ``loader`` returns a
    ``zoo_core.data.DatasetSplits`` when called with ``seed=`` and the dataset's options."""


@hookspec
def zoo_register_tasks(register):
    """``register(name, *, task, summary="")``: ``task`` is a ``"module:Class"`` string of a
    ``zoo_core.tasks.Task`` subclass; ``task=NAME:KEY=VALUE,...`` passes options to it."""


@hookspec
def zoo_register_recipes(register):
    """``register(name, *, overrides, description="")``: a named starting point in the
    override grammar (``{"embed": "hash", "embed.num_bits": 262144, ...}``); ``recipe=NAME``."""


@hookspec
def zoo_register_commands(cli):
    """Add commands to the ``zoo`` command line: ``cli`` is its typer app (``@cli.command()``).
    Declare the module in the ``zoo.cli`` entry-point group (not ``zoo``): ``zoo --help``
    imports only those modules, so keep them light too."""
