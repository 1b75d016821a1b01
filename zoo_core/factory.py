"""The factory: what a user names is resolved once, validated once, and built. Torch-free
until a component is built (its plugin module imports torch then).

    resolve(kind, "lambda", {"heads": 2}, dim=64)        -> ComponentSpec (pinned dist==version)
    resolve("embed", "hf:org/langid@main#embed", {}, 64) -> ComponentSpec with a pinned Hub source
    resolve("loss", "cross_entropy+0.1*conicity", {}, 64) -> whatever component claims the expression
    build(spec)                                          -> the component object
    create("mixer", "lambda", dim=64, heads=4)           -> both at once

Fields declared with ``zoo_core.config.component_field`` (a loss term, an inner optimizer)
are resolved here too, recursively, so nested components are pinned like top-level ones.
No other module resolves components.
"""
from __future__ import annotations

import difflib
import inspect
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from .config import ComponentSource, ComponentSpec, ModuleConfig, component_kind_of, fill_saved_defaults
from .errors import ZooError, did_you_mean
from .refs import Ref, parse_ref
from .registry import Component, Registry, get_registry, import_object

DEFAULT_DIM = 64


def resolve(kind: str, text: str, fields: dict | None = None, dim: int = DEFAULT_DIM, *,
            registry: Registry | None = None, where: str | None = None) -> ComponentSpec:
    """The validated spec of ``kind=text`` with ``fields``; every problem in one ZooError."""
    spec, problems = try_resolve(kind, str(text), dict(fields or {}), dim, registry or get_registry(), where or kind)
    if problems:
        raise ZooError(*problems)
    return spec


def try_resolve(kind: str, text: str, fields: dict, dim: int, reg: Registry, where: str):
    """``resolve`` that returns (spec or None, problems) so callers can collect every problem."""
    try:
        ref = parse_ref(text)
        if ref.is_hub:
            return _resolve_hub(kind, ref, fields, dim, reg, where)
        if ref.is_expression:
            comp, fields = _claim_expression(kind, text, fields, reg)
        else:
            comp = reg.resolve(kind, text)
    except ZooError as e:
        return None, [_located(p, kind, text, where) for p in e.problems]
    return _validate(comp, fields, dim, reg, where)


def _located(problem: str, kind: str, text: str, where: str) -> str:
    """A problem that names ``kind=text`` names where it was written instead (``optim.inner=...``)."""
    if problem.startswith(f"{kind}={text}"):
        return where + problem[len(kind):]
    return problem if problem.startswith(where) else f"{where}={text}: {problem}"


def _claim_expression(kind: str, text: str, fields: dict, reg: Registry) -> tuple[Component, dict]:
    """The component whose registered ``syntax`` reads ``text``, and the config fields it read.
    A syntax object has ``read(text, fields, registry) -> config fields or None`` and
    ``write(config) -> text`` (the inverse, for the model card's command line)."""
    claims = []
    for comp in reg.all_components():
        if comp.kind == kind and comp.syntax is not None:
            read = import_object(comp.syntax).read(text, fields, reg)
            if read is not None:
                claims.append((comp, read))
    if not claims:
        raise ZooError(f"{kind}={text}: not a component name;{did_you_mean(text, reg.names(kind))} "
                       f"choices: {', '.join(reg.names(kind))}")
    if len(claims) > 1:
        raise ZooError(f"{kind}={text}: read by several components ({', '.join(c.key for c, _ in claims)}); "
                       f"uninstall one of their distributions")
    return claims[0]


def _validate(comp: Component, fields: dict, dim: int, reg: Registry, where: str):
    problems = unknown_fields(where, comp, fields, reg)
    if problems:
        return None, problems
    values = dict(fields)
    if issubclass(comp.config, ModuleConfig):
        if "dim" in values and values["dim"] != dim:
            return None, [f"{where}.dim={values['dim']}: components share the model width; set "
                          f"dim={values['dim']} at the top level instead"]
        values["dim"] = dim
    problems = _resolve_nested(comp.config, values, dim, reg, where)
    if problems:
        return None, problems
    try:
        cfg = comp.config.model_validate(values)
    except ValidationError as e:
        return None, pydantic_problems(where, e)
    spec = ComponentSpec(kind=comp.kind, name=comp.name, dist=comp.dist, version=comp.version,
                         config=cfg.model_dump(mode="json"))
    spec._validated = cfg
    return spec, []


def _resolve_nested(config_cls: type[BaseModel], values: dict, dim: int, reg: Registry, where: str) -> list[str]:
    """Replace, in place, each nested-component value (a name, or {"name": ..., field: ...})
    by its resolved spec; recurse into lists of sub-models (the combined loss's terms)."""
    problems = []
    for name, field in config_cls.model_fields.items():
        kind = component_kind_of(field)
        if kind is not None:
            value = values.get(name, field.default)
            if value is None or isinstance(value, ComponentSpec) or _is_spec_dict(value):
                continue
            text, own = (value.get("name") or field.default, {k: v for k, v in value.items() if k != "name"}) \
                if isinstance(value, dict) else (value, {})
            spec, probs = try_resolve(kind, str(text), own, dim, reg, f"{where}.{name}")
            problems += probs
            values[name] = spec
        elif (sub := _list_item_model(field)) is not None:
            items = values.get(name, field.get_default(call_default_factory=True))
            if isinstance(items, list) and any(isinstance(item, dict) for item in items):
                values[name] = items = [dict(item) if isinstance(item, dict) else item for item in items]
                for i, item in enumerate(items):
                    if isinstance(item, dict):
                        problems += _resolve_nested(sub, item, dim, reg, f"{where}.{name}.{i}")
    return problems


def _is_spec_dict(value) -> bool:
    return isinstance(value, dict) and {"kind", "name", "dist", "version", "config"} <= set(value)


def _list_item_model(field) -> type[BaseModel] | None:
    args = typing.get_args(field.annotation)
    if typing.get_origin(field.annotation) is list and args and isinstance(args[0], type) \
            and issubclass(args[0], BaseModel):
        return args[0]
    return None


# ---- pretrained parts from the Hub -------------------------------------------------------
def _resolve_hub(kind: str, ref: Ref, fields: dict, dim: int, reg: Registry, where: str):
    """``kind=hf:ORG/NAME[@REV][#PART]`` -> a spec with the part's config and a pinned source."""
    from .checkpoint import check_requirements, read_config, saved_parts
    from .hub import download

    snap = download(ref)
    parts = saved_parts(read_config(snap.path)["spec"])
    label = ref.part or kind
    if label not in parts:
        same = [p for p in parts if p.split(".")[0] == kind and p != kind]
        hint = (f"; it has {len(same)} {kind}s: pick one with " + ", ".join(f"hf:{ref.repo}#{p}" for p in same)
                if same else f"; its parts: {', '.join(sorted(parts))}")
        raise ZooError(f"{where}={ref}: the model at commit {snap.sha[:12]} has no part '{label}'{hint}")
    src = parts[label][1]
    if src["kind"] != kind:
        raise ZooError(f"{where}={ref}: part '{label}' is a {src['kind']}, not a {kind}")
    check_requirements([f"{s.dist}=={s.version}" for s in ComponentSpec.model_validate(src).walk()])
    src_dim = src["config"].get("dim")
    if src_dim is not None and src_dim != dim:
        return None, [f"{where}={ref}: the pretrained {kind} has width {src_dim} but the model has dim={dim}; "
                      f"set dim={src_dim}"]
    comp = reg.resolve(kind, f"{src['dist']}:{src['name']}")
    values = {k: v for k, v in fill_saved_defaults(comp.config, src["config"]).items() if k != "dim"}
    spec, problems = _validate(comp, {**values, **fields}, dim, reg, where)
    if spec is not None:
        validated = spec._validated
        spec = spec.model_copy(update={"source": ComponentSource(repo=ref.repo, revision=ref.revision or "main",
                                                                 sha=snap.sha, component=label)})
        spec._validated = validated
    return spec, problems


# ---- building ----------------------------------------------------------------------------
def build(spec: ComponentSpec, *, pretrained: bool = True, registry: Registry | None = None,
          context: dict | None = None):
    """The component object of a resolved spec; with ``pretrained``, a spec with a Hub
    ``source`` gets its weights from the pinned commit; ``freeze=true`` freezes it.
    ``context``: what the model passes besides the config (a head's in_dim, num_classes)."""
    reg = registry or get_registry()
    comp = reg.resolve(spec.kind, f"{spec.dist}:{spec.name}")
    cfg = spec._validated if spec._validated is not None else _config_of(comp, spec, reg)
    factory = comp.load_factory()
    try:
        obj = factory.from_config(cfg, **(context or {})) if _has_from_config(factory) \
            else factory(cfg, **(context or {}))
    except (MemoryError, RuntimeError) as e:
        raise _out_of_memory(spec, e) from None
    if pretrained and spec.source is not None:
        _load_pretrained_part(obj, spec)
    if getattr(cfg, "freeze", False) and hasattr(obj, "parameters"):
        for p in obj.parameters():
            p.requires_grad_(False)
    return obj


def _out_of_memory(spec: ComponentSpec, e: BaseException) -> BaseException:
    """A component too big to allocate: one line with the size it asked for, else ``e`` itself."""
    import re

    asked = re.search(r"tried to allocate (\d+) bytes", str(e))
    if not isinstance(e, MemoryError) and asked is None:
        return e
    size = f" {int(asked.group(1)) / 2**30:,.1f} GiB for one tensor" if asked else ""
    fields = ", ".join(f"{k}={v}" for k, v in spec.config.items() if isinstance(v, int) and not isinstance(v, bool)
                       and v > 4096)
    return ZooError(f"{spec.kind}={spec.name}: not enough memory to build it (it needs{size or ' more than is free'}); "
                    f"lower its size settings{' (' + fields + ')' if fields else ''} or dim")


def _has_from_config(factory) -> bool:
    """True for a component class built by keyword arguments (``cls.from_config(cfg)``); False for
    a callable taking the config, and for a class whose constructor still takes ``cfg`` (a plugin
    written for zoo 0.1: it inherits ``from_config`` from the base classes but cannot use it)."""
    if not callable(getattr(factory, "from_config", None)):
        return False
    try:
        params = list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return True
    return params[:1] != ["cfg"]


def _load_pretrained_part(obj, spec: ComponentSpec) -> None:
    """Load the pretrained state of ``spec.source`` (pinned to its commit sha) into ``obj``, strictly."""
    from .checkpoint import read_config, read_weights, saved_parts, load_weights_strict
    from .hub import download

    src = spec.source
    snap = download(Ref(f"hf:{src.repo}@{src.sha}", repo=src.repo, revision=src.sha))
    config = read_config(snap.path)
    prefix = saved_parts(config["spec"]).get(src.component, ("", None))[0]
    if not prefix or not hasattr(obj, "state_dict"):
        return  # an optimizer or a loss without weights: its config is all there is
    where = f"hf:{src.repo}@{src.sha[:12]} {src.component}"
    if spec.kind == "embed":
        obj.load_state_json(config.get("embed_state") or {})
    if spec.kind == "head":  # a head scores the source's labels, in their order: the model checks its own
        labels = list(config.get("labels") or [])
        if len(labels) != getattr(obj, "num_classes", len(labels)):
            raise ZooError(f"{where}: the pretrained head scores {len(labels)} labels ({', '.join(labels[:5])}) but "
                           f"this model has {obj.num_classes} classes; a head fits only data with the same labels")
        obj.source_labels = labels
    tensors = read_weights(snap.path, config)
    own = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    load_weights_strict(obj, own, where)


def _config_of(comp: Component, spec: ComponentSpec, reg: Registry):
    """The config object of a saved spec. A config an older version of the plugin saved (e.g.
    a nested component stored by name) is read again as user fields, so it still loads."""
    saved = fill_saved_defaults(comp.config, spec.config)
    try:
        return comp.config.model_validate(saved)
    except ValidationError as e:
        first = pydantic_problems(f"{spec.kind}:{spec.name}", e)
    fields = {k: v for k, v in saved.items() if k != "dim"}
    again, _ = _validate(comp, fields, spec.config.get("dim", DEFAULT_DIM), reg, f"{spec.kind}:{spec.name}")
    if again is None:
        raise ZooError(*first, f"{spec.kind}:{spec.name}: the saved config does not fit {comp.dist}=={comp.version}; "
                               f"install {spec.requirement}")
    return again._validated


def create(kind: str, name: str, registry: Registry | None = None, **fields: Any):
    """A ready component: ``create("mixer", "lambda", dim=64, heads=4)``."""
    dim = fields.pop("dim", DEFAULT_DIM)
    return build(resolve(kind, name, fields, dim, registry=registry), registry=registry)


# ---- problems, written for the user -------------------------------------------------------
def pydantic_problems(prefix: str, err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]).removeprefix("model.")
        where = ".".join(p for p in (prefix, loc) if p) or "spec"
        got = e.get("input")
        got_text = "" if isinstance(got, dict) else f" (got {got!r})"
        out.append(f"{where}: {e['msg'][0].lower() + e['msg'][1:]}{got_text}")
    return out


def unknown_field_problems(prefix: str, label: str, fields, allowed: list[str], hint=lambda f: "") -> list[str]:
    return [f"{prefix}.{f}: unknown field for {label};{did_you_mean(f, allowed)} fields: {', '.join(allowed)}"
            + hint(f) for f in fields if f not in allowed]


def unknown_fields(where: str, comp: Component, fields: dict, reg: Registry) -> list[str]:
    return unknown_field_problems(where, comp.key, fields, list(comp.config.model_fields),
                                  hint=lambda f: _elsewhere(f, comp, reg))


def _elsewhere(field: str, comp: Component, reg: Registry) -> str:
    """When no field of the chosen component is close, name other components of the kind
    that have one: `mixer.haeds=4` on mixer:identity -> 'heads' of mixer:lambda, ..."""
    if difflib.get_close_matches(field, list(comp.config.model_fields), n=1, cutoff=0.6):
        return ""
    owners: dict[str, list[str]] = {}
    for other in reg.all_components():
        if other.kind == comp.kind and other.name != comp.name:
            for match in difflib.get_close_matches(field, list(other.config.model_fields), n=1, cutoff=0.6):
                owners.setdefault(match, []).append(other.name)
    if not owners:
        return ""
    best = max(owners, key=lambda m: difflib.SequenceMatcher(None, field, m).ratio())
    names = owners[best][:3]
    return (f" — '{best}' is a field of {', '.join(f'{comp.kind}:{n}' for n in names)}; "
            f"e.g. {comp.kind}={names[0]} {comp.kind}.{best}=...")
