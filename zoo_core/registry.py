"""Plugin discovery and the registry of what plugins provide. Torch-free.

Discovery reads the ``zoo`` entry-point group, imports each entry point's module, and calls
its hooks with a ``register`` callback bound to the providing distribution. pluggy's own
``load_setuptools_entrypoints`` is not used because it aborts on the first plugin that
fails to import and silently skips a second distribution with the same entry-point name;
here each plugin is isolated, and every failure is reported once, naming its distribution.

A name registered by two distributions is never silently shadowed: resolving it is an
error listing the qualified choices ``dist:name``.
"""
from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import os
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

import pluggy

from . import hookspecs
from .citations import factory_citation
from .errors import ZooError, ZooPluginWarning, did_you_mean
from .refs import normalize_dist, parse_ref

KINDS = ("embed", "mixer", "pool", "head", "loss", "optim")
KIND_TITLES = {"embed": "embedder", "mixer": "mixer", "pool": "pooler", "head": "output head", "loss": "loss",
               "optim": "optimizer"}
KIND_ALIASES = {"embedder": "embed", "embedding": "embed", "pooler": "pool", "pooling": "pool",
                "optimizer": "optim", "optimiser": "optim", "mixers": "mixer", "heads": "head", "output": "head"}
CORE_DIST = "zoo-nlp"
ENTRY_POINT_GROUP = "zoo"
COMMANDS_GROUP = "zoo.cli"  # plugins that add commands: the only ones `zoo --help` imports
AUTOLOAD_ENV = "ZOO_DISABLE_PLUGIN_AUTOLOAD"


def import_object(target: str | Callable) -> Any:
    """Import ``"package.module:attr"`` (only strings a plugin registered, never a checkpoint's)."""
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Component:
    kind: str
    name: str
    dist: str
    version: str
    factory: Any  # "module:attr" or callable, imported only when built
    config: type  # pydantic model class
    summary: str = ""
    cited_post: str = ""
    cited_paper: str = ""
    plugin: str = ""
    syntax: Any = None  # "module:attr" claiming non-name references, or None

    @property
    def qualified(self) -> str:
        return f"{self.kind}:{self.dist}:{self.name}"

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def post(self) -> str:
        return self.cited_post or self._docstring().get("post", "")

    @property
    def paper(self) -> str:
        return self.cited_paper or self._docstring().get("paper", "")

    def _docstring(self) -> dict[str, str]:
        return factory_citation(self.factory)

    def load_factory(self) -> Callable:
        return import_object(self.factory)


@dataclass(frozen=True)
class Entry:
    """A dataset, task or recipe: a name, who provides it, and what it is."""

    name: str
    dist: str
    version: str
    target: Any  # loader / task class ("module:attr" or object) / recipe overrides dict
    summary: str = ""
    license: str = ""
    url: str = ""

    def load(self) -> Any:
        return import_object(self.target)


@dataclass
class PluginInfo:
    dist: str
    version: str
    entry_point: str
    module: str
    provides: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class Registry:
    components: dict[tuple[str, str], list[Component]] = field(default_factory=dict)
    datasets: dict[str, list[Entry]] = field(default_factory=dict)
    tasks: dict[str, list[Entry]] = field(default_factory=dict)
    recipes: dict[str, list[Entry]] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    # ---- components ----------------------------------------------------------------
    def all_components(self) -> list[Component]:
        return [c for key in sorted(self.components) for c in self.components[key]]

    def list(self, pattern: str = "*") -> list[Component]:
        """Components whose ``kind:name`` (or ``kind:dist:name``) matches a shell wildcard.
        A pattern without ':' matches names of any kind: ``*lambda*``."""
        pattern = pattern or "*"
        out = []
        for c in self.all_components():
            targets = (c.key, c.qualified) if ":" in pattern else (c.name,)
            if any(fnmatch.fnmatchcase(t, pattern) for t in targets):
                out.append(c)
        return out

    def names(self, kind: str) -> list[str]:
        return sorted({name for (k, name) in self.components if k == kind})

    def resolve(self, kind: str, text: str) -> Component:
        """The registered component a user means by ``name`` or ``dist:name``."""
        kind = normalize_kind(kind)
        choices = ", ".join(self.names(kind)) or "(none installed)"
        if not isinstance(text, str) or not text:
            raise ZooError(f"{kind}: expected a component name, got {text!r}; choices: {choices}")
        ref = parse_ref(text)
        if ref.is_hub:
            raise ZooError(f"{kind}={text}: a Hub component is resolved when a model is composed "
                           f"(zoo build {kind}={text}), not looked up in the registry")
        if ref.is_expression:
            raise ZooError(f"{kind}={text}: not a component name; choices: {choices}")
        candidates = self.components.get((kind, ref.name), [])
        if ref.dist is not None:
            picked = [c for c in candidates if normalize_dist(c.dist) == ref.dist]
            if candidates and not picked:
                provided = ", ".join(f"{c.dist}:{c.name}" for c in candidates)
                raise ZooError(f"{kind}={text}: distribution '{ref.dist}' provides no {kind} '{ref.name}'; "
                               f"available: {provided}")
            candidates = picked
        if not candidates:
            raise ZooError(f"{kind}={text}: unknown {KIND_TITLES[kind]} '{ref.name}';"
                           f"{did_you_mean(ref.name, self.names(kind))} choices: {choices}")
        if len(candidates) > 1:
            qualified = ", ".join(f"{c.dist}:{c.name}" for c in candidates)
            raise ZooError(f"{kind}={text}: '{ref.name}' is provided by {len(candidates)} distributions; "
                           f"pick one with a qualified name: {qualified}")
        return candidates[0]

    def display_name(self, kind: str, name: str, dist: str) -> str:
        """``name``, or ``dist:name`` when two distributions register the name."""
        return name if len(self.components.get((kind, name), [])) <= 1 else f"{dist}:{name}"

    # ---- datasets, tasks, recipes ----------------------------------------------------
    def dataset(self, name: str) -> Entry:
        return self._entry(self.datasets, name, "data", "dataset",
                           "; or give a path to a .tsv, .csv or .jsonl file with text and label columns")

    def task(self, name: str) -> Entry:
        return self._entry(self.tasks, name, "task", "task")

    def recipe(self, name: str) -> Entry:
        return self._entry(self.recipes, name, "recipe", "recipe")

    def _entry(self, table: dict[str, list[Entry]], text: str, key: str, what: str, hint: str = "") -> Entry:
        ref = parse_ref(text)
        candidates = table.get(ref.name, []) if ref.name else []
        if ref.dist is not None:
            candidates = [e for e in candidates if normalize_dist(e.dist) == ref.dist]
        if not candidates:
            choices = sorted(table)
            prefix = f"no such file and no registered dataset '{text}'" if what == "dataset" else f"unknown {what}"
            raise ZooError(f"{key}={text}: {prefix};{did_you_mean(ref.name, choices)} "
                           f"{what}s: {', '.join(choices) or '(none)'}{hint}")
        if len(candidates) > 1:
            raise ZooError(f"{key}={text}: provided by several distributions; pick one: "
                           + ", ".join(f"{e.dist}:{e.name}" for e in candidates))
        return candidates[0]


def normalize_kind(kind: str) -> str:
    k = KIND_ALIASES.get(kind, kind)
    if k not in KINDS:
        raise ZooError(f"unknown component kind '{kind}';{did_you_mean(kind, KINDS)} kinds: {', '.join(KINDS)}")
    return k


# ---- discovery -------------------------------------------------------------------------
def autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def _twice(reg: Registry, info: PluginInfo, what: str) -> None:
    twice = f"{what} is registered twice by {info.dist}"
    reg.problems.append(f"plugin '{info.entry_point}' from {info.dist}=={info.version}: {twice}; the first "
                        f"registration is used — report it to the plugin's authors")
    info.error = f"{info.error}; {twice}" if info.error else twice


def _component_register(reg: Registry, info: PluginInfo):
    def register(kind: str, name: str, *, factory, config, summary: str = "", post: str = "", paper: str = "",
                 syntax=None):
        kind = normalize_kind(kind)
        from pydantic import BaseModel

        if not (isinstance(config, type) and issubclass(config, BaseModel)):
            raise TypeError(f"{kind}:{name}: config must be a pydantic model class, got {config!r}")
        if not name or ":" in name or "/" in name:
            raise ValueError(f"{kind}:{name!r}: component names may not be empty or contain ':' or '/'")
        existing = reg.components.setdefault((kind, name), [])
        if any(normalize_dist(c.dist) == normalize_dist(info.dist) for c in existing):
            return _twice(reg, info, f"{kind}:{name}")
        existing.append(Component(kind, name, info.dist, info.version, factory, config, summary, post, paper,
                                  info.entry_point, syntax))
        info.provides.append(f"{kind}:{name}")

    return register


def _entry_register(reg: Registry, info: PluginInfo, table: str, label: str, target_key: str):
    def register(name: str, **kwargs):
        target = kwargs.pop(target_key)
        summary = kwargs.pop("summary", "") or kwargs.pop("description", "")
        existing = getattr(reg, table).setdefault(name, [])
        if any(normalize_dist(e.dist) == normalize_dist(info.dist) for e in existing):
            return _twice(reg, info, f"{label}:{name}")
        existing.append(Entry(name, info.dist, info.version, target, summary, **kwargs))
        info.provides.append(f"{label}:{name}")

    return register


HOOKS = {
    "zoo_register_components": _component_register,
    "zoo_register_datasets": lambda reg, info: _entry_register(reg, info, "datasets", "data", "loader"),
    "zoo_register_tasks": lambda reg, info: _entry_register(reg, info, "tasks", "task", "task"),
    "zoo_register_recipes": lambda reg, info: _entry_register(reg, info, "recipes", "recipe", "overrides"),
}


def _entry_points(entry_points):
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
    autoload = autoload_enabled()
    for ep in sorted(eps, key=lambda e: (e.dist.name != CORE_DIST if e.dist else True, e.name)):
        dist_name = ep.dist.name if ep.dist else "unknown"
        if autoload or normalize_dist(dist_name) == CORE_DIST:
            yield ep, dist_name, ep.dist.version if ep.dist else "0"


def _load_plugin(reg: Registry, pm: pluggy.PluginManager, ep, info: PluginInfo) -> None:
    where = f"plugin '{ep.name}' from {info.dist}=={info.version}"
    try:
        module = ep.load()
        pm.register(module, name=f"{info.dist}:{ep.name}")
    except Exception as exc:  # a broken plugin must not take zoo down
        info.error = f"{type(exc).__name__}: {exc}"
        reg.problems.append(f"{where} failed to load ({info.error}); it was skipped — "
                            f"reinstall or uninstall {info.dist}, or set {AUTOLOAD_ENV}=1")
        return
    for hook_name, make in HOOKS.items():
        impls = [i for i in getattr(pm.hook, hook_name).get_hookimpls() if i.plugin is module]
        try:  # called one plugin at a time so each registration knows its distribution
            for impl in impls:
                impl.function(register=make(reg, info))
        except Exception as exc:
            info.error = f"{type(exc).__name__}: {exc}"
            reg.problems.append(f"{where} failed in {hook_name} ({info.error}); what it registered "
                                f"before the error is kept — report it to the plugin's authors")


def discover(entry_points=None) -> Registry:
    """Load every plugin of the ``zoo`` entry-point group into a fresh Registry."""
    reg = Registry()
    pm = pluggy.PluginManager("zoo")
    pm.add_hookspecs(hookspecs)
    for ep, dist_name, version in _entry_points(entry_points):
        info = PluginInfo(dist_name, version, ep.name, ep.value)
        reg.plugins.append(info)
        _load_plugin(reg, pm, ep, info)
    for problem in reg.problems:
        warnings.warn(problem, ZooPluginWarning, stacklevel=2)
    return reg


def add_commands(cli, entry_points=None) -> None:
    """Let every plugin of the ``zoo.cli`` entry-point group (zoo's own commands included) add
    its commands to the typer app ``cli``. Only these modules are imported, so a component
    plugin that imports torch never slows ``zoo --help``; a broken one is reported and skipped."""
    pm = pluggy.PluginManager("zoo")
    pm.add_hookspecs(hookspecs)
    eps = metadata.entry_points(group=COMMANDS_GROUP) if entry_points is None else entry_points
    for ep, dist_name, version in _entry_points(eps):
        try:
            module = ep.load()
            pm.register(module, name=f"{dist_name}:{ep.name}")
            for impl in pm.hook.zoo_register_commands.get_hookimpls():
                if impl.plugin is module:
                    impl.function(cli=cli)
        except Exception as exc:  # a broken plugin must not take the CLI down
            warnings.warn(f"plugin '{ep.name}' from {dist_name}=={version} failed to add its commands "
                          f"({type(exc).__name__}: {exc}); they are missing — reinstall or uninstall {dist_name}, "
                          f"or set {AUTOLOAD_ENV}=1", ZooPluginWarning, stacklevel=2)


_REGISTRY: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, discovered on first use."""
    global _REGISTRY
    if _REGISTRY is None or refresh:
        _REGISTRY = discover()
    return _REGISTRY
