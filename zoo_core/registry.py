"""Plugin discovery and the component registry.

Discovery reads the ``zoo`` entry-point group, imports each entry point's module, and
calls its hooks with a ``register`` callback bound to the providing distribution. pluggy's
own ``load_setuptools_entrypoints`` is not used because it aborts on the first plugin that
fails to import and silently skips a second distribution with the same entry-point name;
here each plugin is isolated, and every failure is reported once, naming its distribution.

Names are ``kind:name``. A name registered by two distributions is never silently
shadowed: resolving it is an error listing the qualified choices ``dist:name``.
Torch is never imported here.
"""
from __future__ import annotations

import ast
import fnmatch
import functools
import importlib
import importlib.util
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

import pluggy

from . import hookspecs
from .errors import ZooError, ZooPluginWarning, did_you_mean

KINDS = ("embed", "mixer", "pool", "loss", "optim")
KIND_TITLES = {"embed": "embedder", "mixer": "mixer", "pool": "pooler", "loss": "loss", "optim": "optimizer"}
KIND_ALIASES = {"embedder": "embed", "embedding": "embed", "pooler": "pool", "pooling": "pool",
                "optimizer": "optim", "optimiser": "optim", "mixers": "mixer"}
CORE_DIST = "zoo-nlp"
ENTRY_POINT_GROUP = "zoo"
AUTOLOAD_ENV = "ZOO_DISABLE_PLUGIN_AUTOLOAD"
RESERVED_PREFIXES = ("hf", "local-dir")


def _normalize(dist_name: str) -> str:
    return dist_name.lower().replace("_", "-").replace(".", "-")


def import_object(target: str | Callable) -> Any:
    """Import ``"package.module:attr"`` (only strings a plugin registered, never a checkpoint's)."""
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


# ---- citations: read from the method's source, never by importing it ----------------------
_CITATION_KEYS = {"post": "post", "posts": "post", "paper": "paper", "papers": "paper"}
_KEY_LINE = re.compile(r"^([A-Z][a-z]*(?: [a-z]+)?):(?:\s+(.*))?$")  # "Post: ...", "Shape contract: ..."


def citation_lines(doc: str | None) -> dict[str, str]:
    """``{"post": ..., "paper": ...}`` from a docstring's ``Post:``/``Posts:`` and ``Paper:``/``Papers:``
    lines. A value continues on the following lines until a blank line or the next ``Key:`` line;
    its lines are joined by single spaces. Inside an open double quote (a wrapped title such as
    "Fastformer: Additive ...") a line continues the value even when it looks like ``Key:``.
    A key given twice keeps both values, joined by "; "."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in (doc or "").splitlines():
        line = raw.strip()
        match = _KEY_LINE.match(line)
        quoted = current is not None and sum(part.count('"') for part in current) % 2 == 1
        if not line:
            current = None
        elif match and not quoted:
            key = _CITATION_KEYS.get(match.group(1).lower())
            current = None if key is None else [match.group(2) or ""]
            if current is not None:
                found.setdefault(key, []).append(current)  # type: ignore[arg-type]
        elif current is not None:
            current.append(line)
    return {key: "; ".join(" ".join(p for p in parts if p) for parts in values) for key, values in found.items()}


def _module_source(module: str) -> str | None:
    loaded = sys.modules.get(module)
    path = getattr(loaded, "__file__", None)
    if path is None:
        try:
            spec = importlib.util.find_spec(module)  # imports the parent packages only (configs, no torch)
        except (ImportError, ValueError):
            return None
        path = spec.origin if spec is not None else None
    if not path or not path.endswith(".py"):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


@functools.lru_cache(maxsize=None)
def _citation_of(module: str, attr: str) -> dict[str, str]:
    source = _module_source(module)
    if source is None:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = citation_lines(ast.get_docstring(tree))
    for node in tree.body:  # a factory's own docstring wins (one module, several methods: torch_optims)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == attr:
            found.update(citation_lines(ast.get_docstring(node)))
    return found


def factory_citation(factory: Any) -> dict[str, str]:
    """The ``post``/``paper`` a factory's source states: the docstring of the factory itself (a
    top-level function or class), else of its module. Read with ``ast``, never imported, cached."""
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
    else:
        module = getattr(factory, "__module__", None) or ""
        attr = getattr(factory, "__qualname__", "")
    if not module:
        return {}
    return _citation_of(module, attr.split(".")[0])


@dataclass(frozen=True)
class Component:
    kind: str
    name: str
    dist: str
    version: str
    factory: Any  # "module:attr" or callable, imported only when built
    config: type  # pydantic model class
    summary: str = ""
    registered_post: str = ""  # register(post=...): for third-party callables without a docstring
    registered_paper: str = ""
    plugin: str = ""

    @property
    def post(self) -> str:
        """The blog post(s) the method follows: the registration's ``post=``, else the factory's docstring."""
        return self.registered_post or factory_citation(self.factory).get("post", "")

    @property
    def paper(self) -> str:
        return self.registered_paper or factory_citation(self.factory).get("paper", "")

    @property
    def qualified(self) -> str:
        return f"{self.kind}:{self.dist}:{self.name}"

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def load_factory(self) -> Callable:
        return import_object(self.factory)


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    dist: str
    version: str
    loader: Any
    summary: str = ""
    license: str = ""
    url: str = ""

    def load_loader(self) -> Callable:
        return import_object(self.loader)


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
    datasets: dict[str, list[DatasetEntry]] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    # ---- queries -------------------------------------------------------------------
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

    def resolve(self, kind: str, name: str) -> Component:
        """Find the component a user means by ``name`` (``name`` or ``dist:name``)."""
        kind = normalize_kind(kind)
        if not isinstance(name, str) or not name:
            raise ZooError(f"{kind}: expected a component name, got {name!r}; choices: {', '.join(self.names(kind))}")
        prefix, sep, rest = name.partition(":")
        if sep and prefix == "hf":
            raise ZooError(f"{kind}={name}: a Hub component is resolved when a model is composed "
                           f"(zoo build {kind}={name}), not looked up in the registry")
        if sep and prefix in RESERVED_PREFIXES:
            raise ZooError(
                f"{kind}={name}: loading components from '{prefix}:' sources is not available in this version of zoo; "
                f"choose a registered {KIND_TITLES[kind]}: {', '.join(self.names(kind))}")
        if "/" in name:
            raise ZooError(f"{kind}={name}: a name with '/' is never looked up in the registry; "
                           f"write hf:{name} for a Hub repository or pick one of: {', '.join(self.names(kind))}")
        dist = None
        if sep:
            dist, name = _normalize(prefix), rest
        candidates = self.components.get((kind, name), [])
        if dist is not None:
            candidates = [c for c in candidates if _normalize(c.dist) == dist]
        if not candidates:
            choices = self.names(kind)
            if dist is not None and self.components.get((kind, name)):
                provided = ", ".join(f"{c.dist}:{c.name}" for c in self.components[(kind, name)])
                raise ZooError(f"{kind}={prefix}:{name}: distribution '{prefix}' provides no {kind} '{name}'; "
                               f"available: {provided}")
            raise ZooError(f"{kind}={name}: unknown {KIND_TITLES[kind]} '{name}';{did_you_mean(name, choices)} "
                           f"choices: {', '.join(choices) or '(none installed)'}")
        if len(candidates) > 1:
            qualified = ", ".join(f"{c.dist}:{c.name}" for c in candidates)
            raise ZooError(f"{kind}={name}: '{name}' is provided by {len(candidates)} distributions; "
                           f"pick one with a qualified name: {qualified}")
        return candidates[0]

    def resolve_dataset(self, name: str) -> DatasetEntry:
        prefix, sep, rest = name.partition(":")
        dist = _normalize(prefix) if sep else None
        base = rest if sep else name
        candidates = self.datasets.get(base, [])
        if dist is not None:
            candidates = [d for d in candidates if _normalize(d.dist) == dist]
        if not candidates:
            choices = sorted(self.datasets)
            raise ZooError(f"data={name}: no such file and no registered dataset '{name}';"
                           f"{did_you_mean(base, choices)} datasets: {', '.join(choices) or '(none)'}; "
                           f"or give a path to a .tsv, .csv or .jsonl file with text and label columns")
        if len(candidates) > 1:
            raise ZooError(f"data={name}: provided by several distributions; pick one: "
                           + ", ".join(f"{d.dist}:{d.name}" for d in candidates))
        return candidates[0]


def normalize_kind(kind: str) -> str:
    k = KIND_ALIASES.get(kind, kind)
    if k not in KINDS:
        raise ZooError(f"unknown component kind '{kind}';{did_you_mean(kind, KINDS)} kinds: {', '.join(KINDS)}")
    return k


# ---- discovery -------------------------------------------------------------------------
def autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def _make_component_register(reg: Registry, info: PluginInfo):
    def register(kind: str, name: str, *, factory, config, summary: str = "", post: str = "", paper: str = ""):
        kind = normalize_kind(kind)
        from pydantic import BaseModel

        if not (isinstance(config, type) and issubclass(config, BaseModel)):
            raise TypeError(f"{kind}:{name}: config must be a pydantic model class, got {config!r}")
        if not name or ":" in name or "/" in name:
            raise ValueError(f"{kind}:{name!r}: component names may not be empty or contain ':' or '/'")
        existing = reg.components.setdefault((kind, name), [])
        if any(_normalize(c.dist) == _normalize(info.dist) for c in existing):
            # keep the first registration and the plugin's later ones; report this one
            twice = f"{kind}:{name} is registered twice by {info.dist}"
            reg.problems.append(f"plugin '{info.entry_point}' from {info.dist}=={info.version}: {twice}; the first "
                                f"registration is used — report it to the plugin's authors")
            info.error = f"{info.error}; {twice}" if info.error else twice
            return
        # post/paper: only for callables without a docstring; built-ins cite in their module docstring
        existing.append(Component(kind, name, info.dist, info.version, factory, config,
                                  summary, post, paper, info.entry_point))
        info.provides.append(f"{kind}:{name}")

    return register


def _make_dataset_register(reg: Registry, info: PluginInfo):
    def register(name: str, *, loader, summary: str = "", license: str = "", url: str = ""):
        existing = reg.datasets.setdefault(name, [])
        if any(_normalize(d.dist) == _normalize(info.dist) for d in existing):
            raise ValueError(f"dataset {name} is registered twice by {info.dist}")
        existing.append(DatasetEntry(name, info.dist, info.version, loader, summary, license, url))
        info.provides.append(f"data:{name}")

    return register


def discover(entry_points=None) -> Registry:
    """Load every plugin of the ``zoo`` entry-point group into a fresh Registry."""
    reg = Registry()
    pm = pluggy.PluginManager("zoo")
    pm.add_hookspecs(hookspecs)
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    autoload = autoload_enabled()
    for ep in sorted(entry_points, key=lambda e: (e.dist.name != CORE_DIST if e.dist else True, e.name)):
        dist_name = ep.dist.name if ep.dist else "unknown"
        version = ep.dist.version if ep.dist else "0"
        if not autoload and _normalize(dist_name) != CORE_DIST:
            continue
        info = PluginInfo(dist_name, version, ep.name, ep.value)
        reg.plugins.append(info)
        where = f"plugin '{ep.name}' from {dist_name}=={version}"
        try:
            module = ep.load()
            pm.register(module, name=f"{dist_name}:{ep.name}")
        except Exception as exc:  # a broken plugin must not take zoo down
            info.error = f"{type(exc).__name__}: {exc}"
            reg.problems.append(f"{where} failed to load ({info.error}); it was skipped — "
                                f"reinstall or uninstall {dist_name}, or set {AUTOLOAD_ENV}=1")
            continue
        plugin = pm.get_plugin(f"{dist_name}:{ep.name}")
        for hook_name, make in (("zoo_register_components", _make_component_register),
                                ("zoo_register_datasets", _make_dataset_register)):
            impls = [i for i in getattr(pm.hook, hook_name).get_hookimpls() if i.plugin is plugin]
            try:
                for impl in impls:  # called one plugin at a time so each registration knows its dist
                    impl.function(register=make(reg, info))
            except Exception as exc:
                info.error = f"{type(exc).__name__}: {exc}"
                reg.problems.append(f"{where} failed in {hook_name} ({info.error}); what it registered "
                                    f"before the error is kept — report it to the plugin's authors")
    for problem in reg.problems:
        warnings.warn(problem, ZooPluginWarning, stacklevel=2)
    return reg


_REGISTRY: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, discovered on first use."""
    global _REGISTRY
    if _REGISTRY is None or refresh:
        _REGISTRY = discover()
    return _REGISTRY
