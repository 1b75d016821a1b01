"""From ``key=value`` overrides (the command line) to a validated RunSpec, and back. Torch-free.

    embed=hash                 choose a component (``dist:name`` picks between providers)
    mixer=[lambda,self_attention]   a stack of mixers, applied in order
    mixer.heads=4              a field of every mixer in the stack; mixer.1.heads=4: the second only
    optim.inner=radam optim.inner.lr=0.01   a nested component and its fields
    dim=128                    the model width, for every component
    recipe=NAME                start from a named recipe (default: ``default``; zoo recipes lists them)
    train.epochs=3 seed=1 data=wordfreq_langid data.options.words_per_language=500 ...

Every problem is collected and reported together, one line each.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from . import grammar
from .config import ComponentSpec, component_kind_of
from .errors import ZooError, did_you_mean
from .factory import pydantic_problems, try_resolve, unknown_field_problems
from .registry import Registry, get_registry, import_object
from .runspec import (COMPONENT_KINDS, DEFAULT_HEAD, DEFAULT_RECIPE, MODEL_KEYS, RUN_KEYS, SECTIONS, TOP_KEYS,
                      ModelSpec, RunSpec)


@dataclass
class _Sorted:
    """Overrides sorted by what they set."""

    chosen: dict[str, Any] = field(default_factory=dict)  # kind -> name (mixer: list of names)
    fields: dict[str, dict] = field(default_factory=lambda: {k: {} for k in COMPONENT_KINDS})
    mixer_fields: dict[int, dict] = field(default_factory=dict)  # mixer.N.FIELD
    top: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, dict] = field(default_factory=lambda: {s: {} for s in SECTIONS})


def compose(overrides: list[str] | tuple[str, ...] = (), registry: Registry | None = None, *,
            strict: bool = False) -> RunSpec:
    """Validate overrides (on top of a recipe) and return the full run spec, or raise
    ZooError listing every problem at once. A later pair for the same key wins (callers
    append to a base list on purpose); ``strict`` (the command line) refuses repeated keys."""
    reg = registry or get_registry()
    pairs, problems = grammar.parse_pairs(list(overrides))
    if strict:
        problems += _repeated_keys(pairs)
    pairs = _known_keys(pairs, problems)
    recipe = str(next((v for k, v in reversed(pairs) if k == "recipe"), DEFAULT_RECIPE))
    try:
        base = recipe_pairs(recipe, reg)
    except ZooError as e:
        raise ZooError(*problems, *e.problems) from None
    parsed = _sort(_merge(base, pairs), problems)
    dim = _dim(parsed.top, problems)
    components = _components(parsed, dim, reg, recipe, problems)
    sections = _sections(parsed.sections, problems)
    _check_task(parsed.top.get("task"), reg, problems)
    if problems:
        raise ZooError(*problems)
    try:
        model = ModelSpec.model_validate({**{k: v for k, v in parsed.top.items() if k in MODEL_KEYS}, "dim": dim,
                                          **components})
        run_top = {k: v for k, v in parsed.top.items() if k in RUN_KEYS}
        return RunSpec.model_validate({"recipe": recipe, **run_top, "model": model, **sections})
    except ValidationError as e:
        raise ZooError(*pydantic_problems("", e)) from None


def _repeated_keys(pairs) -> list[str]:
    seen: dict[str, Any] = {}
    problems = []
    for key, value in pairs:
        if key in seen and f"{key}=" not in " ".join(problems):
            problems.append(f"{key}: given twice ({grammar.format_pair(key, seen[key])} and "
                            f"{grammar.format_pair(key, value)}); keep one")
        seen.setdefault(key, value)
    return problems


def recipe_pairs(name: str, registry: Registry | None = None) -> list[tuple[str, Any]]:
    """A registered recipe's overrides, in order."""
    return list(((registry or get_registry()).recipe(name).target or {}).items())


def _known_keys(pairs, problems: list[str]) -> list[tuple[str, Any]]:
    """Pairs whose first part is a key zoo knows (a later pair for the same key wins)."""
    kept = []
    for key, value in pairs:
        head = key.split(".")[0]
        if head not in TOP_KEYS:
            problems.append(f"{key}: unknown key '{head}';{did_you_mean(head, TOP_KEYS)} keys: {', '.join(TOP_KEYS)}")
        else:
            kept.append((key, value))
    return kept


def _merge(base: list[tuple[str, Any]], pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The recipe's pairs, then the user's. Choosing ANOTHER component than the recipe's drops
    the recipe's fields for it; naming the recipe's own component keeps them."""
    recipe_choice = {k: v for k, v in base if "." not in k}
    replaced = {k for k, v in pairs if k in COMPONENT_KINDS + ("data",) and recipe_choice.get(k) != v}
    base = [(k, v) for k, v in base if not (k.split(".")[0] in replaced and "." in k)]
    return [(k, v) for k, v in base + pairs if k != "recipe"]


def _sort(merged, problems: list[str]) -> _Sorted:
    out = _Sorted()
    for key, value in merged:
        parts = key.split(".")
        head = parts[0]
        if head in COMPONENT_KINDS:
            if len(parts) == 1:
                out.chosen[head] = value
            elif head == "mixer" and parts[1].isdigit():
                if len(parts) < 3:
                    problems.append(f"{key}: write mixer.N.FIELD=VALUE, e.g. mixer.0.heads=4")
                else:
                    _set_nested(out.mixer_fields.setdefault(int(parts[1]), {}), parts[2:], value)
            else:
                _set_nested(out.fields[head], parts[1:], value)
        elif head in SECTIONS:
            _sort_section(out.sections, parts, key, value, problems)
        elif len(parts) > 1:
            problems.append(f"{key}: '{head}' has no fields; write {head}=VALUE")
        else:
            out.top[head] = value
    return out


def _set_nested(fields: dict, path: list[str], value: Any) -> None:
    """``optim.inner=radam`` then ``optim.inner.lr=0.01`` -> {"inner": {"name": "radam", "lr": 0.01}}."""
    name = path[0]
    if len(path) == 1:
        if isinstance(fields.get(name), dict):
            fields[name]["name"] = value
        else:
            fields[name] = value
        return
    current = fields.get(name)
    current = {"name": current} if isinstance(current, str) else (current if isinstance(current, dict) else {})
    fields[name] = current
    _set_nested(current, path[1:], value)


def _sort_section(sections: dict, parts: list[str], key: str, value, problems: list[str]) -> None:
    head = parts[0]
    if len(parts) == 1:
        if head == "data":
            sections["data"]["source"] = value
        else:
            problems.append(f"{key}: '{head}' is a section; set its fields, e.g. "
                            f"{head}.{next(iter(SECTIONS[head].model_fields))}=...")
    elif head == "data" and parts[1] == "options" and len(parts) == 3:
        sections["data"].setdefault("options", {})[parts[2]] = value
    elif len(parts) == 2:
        sections[head][parts[1]] = value
    else:
        problems.append(f"{key}: too many dots; write {head}.FIELD=VALUE")


def _dim(top: dict, problems: list[str]) -> int:
    value = top.get("dim", ModelSpec.model_fields["dim"].default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.append(f"dim={grammar.format_value(value)}: must be a positive whole number, e.g. dim=64")
        return ModelSpec.model_fields["dim"].default
    return value


def _components(parsed: _Sorted, dim: int, reg: Registry, recipe: str, problems: list[str]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    parsed.chosen.setdefault("head", DEFAULT_HEAD)
    for kind in COMPONENT_KINDS:
        if kind not in parsed.chosen:
            problems.append(f"{kind}: no component chosen and recipe '{recipe}' sets none; add {kind}=NAME "
                            f"(see: zoo list '{kind}:*')")
        elif kind == "mixer":
            resolved["mixer"] = _mixer_stack(parsed, dim, reg, problems)
        elif isinstance(parsed.chosen[kind], list):
            problems.append(f"{kind}={grammar.format_value(parsed.chosen[kind])}: only mixers stack; choose one {kind}")
        else:
            spec, probs = try_resolve(kind, str(parsed.chosen[kind]), parsed.fields[kind], dim, reg, kind)
            problems += probs
            resolved[kind] = spec
    return resolved


def _mixer_stack(parsed: _Sorted, dim: int, reg: Registry, problems: list[str]) -> list:
    chosen = parsed.chosen["mixer"]
    names = chosen if isinstance(chosen, list) else [chosen]
    shared, per_layer = parsed.fields["mixer"], parsed.mixer_fields
    if not names and (shared or per_layer):
        given = sorted(shared) + [f"{i}.{k}" for i, f in sorted(per_layer.items()) for k in f]
        problems.append(f"mixer.{given[0]}: the mixer stack is empty (mixer=[]), so it has no fields; "
                        f"choose mixers first, e.g. mixer=lambda mixer.{given[0].split('.')[-1]}=...")
    for idx in per_layer:
        if names and idx >= len(names):
            problems.append(f"mixer.{idx}: the mixer stack has {len(names)} layer(s) (0..{len(names) - 1})")
    stack = []
    for i, name in enumerate(names):
        where = "mixer" if len(names) == 1 and i not in per_layer else f"mixer.{i}"
        spec, probs = try_resolve("mixer", str(name), {**shared, **per_layer.get(i, {})}, dim, reg, where)
        problems += probs
        stack.append(spec)
    return stack


def _sections(sections: dict[str, dict], problems: list[str]) -> dict[str, Any]:
    out = {}
    for name, cls in SECTIONS.items():
        extra = [f for f in sections[name] if f not in cls.model_fields]
        if extra:
            problems += unknown_field_problems(name, name, extra, list(cls.model_fields))
            continue
        try:
            out[name] = cls.model_validate(sections[name])
        except ValidationError as e:
            problems += pydantic_problems(name, e)
    return out


def _check_task(task, reg: Registry, problems: list[str]) -> None:
    if task is None:
        return
    from .tasks import get_task

    try:
        get_task(str(task), reg)
    except ZooError as e:
        problems += e.problems


# ---- back to overrides -------------------------------------------------------------------
def to_overrides(run: RunSpec, registry: Registry | None = None) -> list[str]:
    """A fully explicit override list that rebuilds ``run`` (component fields only where they
    differ from the component's defaults)."""
    reg = registry or get_registry()
    m = run.model
    out = []
    for kind in COMPONENT_KINDS:
        specs = m.mixer if kind == "mixer" else [getattr(m, kind)]
        if specs == [None]:  # an old checkpoint's run: no head named, so the default
            continue
        names = [reference_text(s, reg) for s in specs]
        out.append(f"{kind}=[{','.join(names)}]" if kind == "mixer" and len(names) != 1 else f"{kind}={names[0]}")
        for i, spec in enumerate(specs):
            out += _field_overrides(f"mixer.{i}" if kind == "mixer" and len(specs) > 1 else kind, spec, reg)
    for key, fld in ModelSpec.model_fields.items():
        if key in MODEL_KEYS and key != "num_classes" and (getattr(m, key) != fld.default or key == "dim"):
            out.append(grammar.format_pair(key, getattr(m, key)))
    for key in RUN_KEYS:
        if key != "seed" and getattr(run, key) != RunSpec.model_fields[key].default:
            out.append(grammar.format_pair(key, getattr(run, key)))
    for section, cls in SECTIONS.items():
        out += _section_overrides(section, getattr(run, section), cls)
    out.append(f"seed={run.seed}")
    return out


def reference_text(spec: ComponentSpec, reg: Registry) -> str:
    """How a user names this component: hf:..., an expression its syntax writes, or its name."""
    if spec.source:
        return f"hf:{spec.source.repo}@{spec.source.sha}#{spec.source.component}"
    comp = reg.resolve(spec.kind, f"{spec.dist}:{spec.name}")
    if comp.syntax is not None:
        return import_object(comp.syntax).write(spec.config)
    return reg.display_name(spec.kind, spec.name, spec.dist)


def _field_overrides(prefix: str, spec: ComponentSpec, reg: Registry) -> list[str]:
    comp = reg.resolve(spec.kind, f"{spec.dist}:{spec.name}")
    if comp.syntax is not None:
        return []  # the expression carries the configuration
    out = []
    for key, value in spec.config.items():
        fld = comp.config.model_fields.get(key)
        if key == "dim" or fld is None or (isinstance(fld.json_schema_extra, dict)
                                           and fld.json_schema_extra.get("recorded")):
            continue
        if component_kind_of(fld) is not None and isinstance(value, dict):
            nested = ComponentSpec.model_validate(value)
            if nested.name != fld.default:
                out.append(f"{prefix}.{key}={reference_text(nested, reg)}")
            out += _field_overrides(f"{prefix}.{key}", nested, reg)
        elif value != fld.get_default(call_default_factory=True):
            out.append(grammar.format_pair(f"{prefix}.{key}", value))
    return out


def _section_overrides(section: str, obj, cls) -> list[str]:
    out = []
    for key, fld in cls.model_fields.items():
        value = getattr(obj, key)
        if value == fld.get_default(call_default_factory=True):
            continue
        if section == "data" and key == "source":
            out.append(grammar.format_pair("data", value))
        elif section == "data" and key == "options":
            out += [grammar.format_pair(f"data.options.{k}", v) for k, v in value.items()]
        else:
            out.append(grammar.format_pair(f"{section}.{key}", value))
    return out
