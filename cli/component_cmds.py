"""``zoo build``, ``zoo list``, ``zoo info``, ``zoo plugins``, ``zoo recipes``, ``zoo tasks``:
composing models and seeing what plugins provide. ``list``, ``info`` and ``plugins`` never import torch."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from zoo_core.errors import ZooError

from .main import OVERRIDES_HELP, _plain, _print_table, command, out


# ---- build -----------------------------------------------------------------------------
@command()
def build(
    overrides: Optional[List[str]] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="write the untrained model (safetensors + config.json) here"),
):
    """Compose a model from components and print its summary."""
    from zoo_core.model import build_model
    from zoo_core.overrides import compose

    run = compose(overrides or [], strict=True)  # strict: the same key twice on one command line is refused
    model = build_model(run, seed=run.seed)
    summary_table(model, title=f"zoo build {' '.join(overrides or [])}".strip())
    if out_dir is not None:
        model.save_pretrained(out_dir, command="zoo build " + " ".join(overrides or []))
        out.print(f"saved untrained model (weights, config.json, model card) to {_plain(str(out_dir))}")


def summary_table(model, title: str = "") -> None:
    from zoo_core.model import count_parameters

    table = Table(title=_plain(title) or None, title_justify="left")
    for col in ("component", "name", "package", "parameters"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    parts = model.parts()
    for label, _attr, module, spec in parts:
        total, trainable = count_parameters(module)
        frozen = " (frozen)" if total and not trainable else ""
        table.add_row(label, spec.name, f"{spec.dist}=={spec.version}", f"{total:,}{frozen}")
        if label == "embed" and not model.spec.mixer:
            table.add_row("mixer", "(none: mixer=[])", "", "0")
    optim = model.spec.optim
    table.add_row("optim", optim.name, f"{optim.dist}=={optim.version}", "-")
    extras = ([("norms", model.norms)] if len(model.norms) else []) + \
        ([("head", model.head)] if model.head is not None and all(p[0] != "head" for p in parts) else [])
    if model.spec.pos == "learned":
        extras.append(("pos", model.pos))
    for label, module in extras:
        table.add_row(label, "layer_norm" if label == "norms" else ("linear" if label == "head" else "learned"),
                      "zoo-nlp (core)", f"{count_parameters(module)[0]:,}")
    total, trainable = count_parameters(model)
    table.add_section()
    table.add_row("total", "", "", f"{total:,}" + (f" ({trainable:,} trainable)" if trainable != total else ""))
    _print_table(table)


# ---- list / info / plugins -------------------------------------------------------------
@command("list")
def list_cmd(pattern: str = typer.Argument("*", help="wildcard over kind:name, e.g. 'mixer:*' or '*lambda*'")):
    """List registered components."""
    from zoo_core.registry import get_registry

    reg = get_registry()
    comps = reg.list(pattern)
    if not comps:
        raise ZooError(f"no component matches '{pattern}'; try zoo list 'mixer:*' — kinds: embed, mixer, pool, loss, optim")
    table = Table()
    for col in ("kind", "name", "package", "summary"):
        table.add_column(col, overflow="fold")
    ambiguous = {key for key, entries in reg.components.items() if len(entries) > 1}
    for c in comps:
        name = f"{c.dist}:{c.name}" if (c.kind, c.name) in ambiguous else c.name
        table.add_row(c.kind, name, f"{c.dist}=={c.version}", _plain(c.summary))
    _print_table(table)


@command()
def info(component: str = typer.Argument(..., help="KIND:NAME (or KIND:DIST:NAME), e.g. mixer:lambda")):
    """Show a component: summary, cited post and paper, config fields with types and defaults."""
    from zoo_core.config import component_kind_of
    from zoo_core.registry import KINDS, get_registry

    kind, sep, name = component.partition(":")
    reg = get_registry()
    if not sep:
        matches = [c for c in reg.all_components() if c.name == component]
        if len(matches) == 1:
            kind, name = matches[0].kind, matches[0].name
        else:
            raise ZooError(f"'{component}': write KIND:NAME, e.g. mixer:lambda (kinds: {', '.join(KINDS)})")
    c = reg.resolve(kind, name)
    out.print(f"[bold]{c.kind}:{c.name}[/bold]  ({_plain(c.dist)}=={c.version})")
    out.print(_plain(c.summary))
    out.print(f"post:  {_plain(c.post or '-')}")
    out.print(f"paper: {_plain(c.paper or '-')}")
    table = Table(title="config", title_justify="left")
    for col in ("field", "type", "default", "description"):
        table.add_column(col, overflow="fold")
    for fname, field in c.config.model_fields.items():
        default = field.get_default(call_default_factory=True)
        kind_of = component_kind_of(field)
        shown = f"{kind_of} component" if kind_of else _type_name(field.annotation)
        table.add_row(fname, _plain(shown), _plain(repr(default)), _plain(field.description or ""))
    _print_table(table)


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", None) if getattr(annotation, "__args__", None) is None else None
    return text or str(annotation).replace("typing.", "")


@command()
def plugins(requirements: bool = typer.Option(False, "--requirements", help="print pinnable name==version lines")):
    """Installed plugin distributions, with versions and what each provides."""
    from zoo_core.registry import autoload_enabled, get_registry, AUTOLOAD_ENV

    reg = get_registry()
    dists: dict[str, tuple[str, list[str], list[str]]] = {}
    for p in reg.plugins:
        version, provides, errors = dists.setdefault(p.dist, (p.version, [], []))
        provides.extend(p.provides)
        if p.error:
            errors.append(f"{p.entry_point}: {p.error}")
    if requirements:
        for dist in sorted(dists, key=str.lower):
            typer.echo(f"{dist}=={dists[dist][0]}")
        return
    table = Table()
    for col in ("distribution", "version", "provides", "problems"):
        table.add_column(col, overflow="fold")
    for dist in sorted(dists, key=str.lower):
        version, provides, errors = dists[dist]
        table.add_row(dist, version, _plain(", ".join(provides) or "-"), _plain("; ".join(errors)))
    _print_table(table)
    if not autoload_enabled():
        out.print(f"third-party plugins are not loaded ({AUTOLOAD_ENV} is set)")




@command()
def recipes():
    """Named recipes (usable as recipe=NAME): where each starts, and who provides it."""
    _entries_table("recipes", ("name", "package", "description"), lambda e: (e.summary,))


@command()
def tasks():
    """Registered tasks (usable as task=NAME or task=NAME:KEY=VALUE,...)."""
    _entries_table("tasks", ("name", "package", "summary"), lambda e: (e.summary,))


def _entries_table(table_name: str, columns: tuple[str, ...], extra) -> None:
    from zoo_core.registry import get_registry

    table = Table()
    for col in columns:
        table.add_column(col, overflow="fold")
    for name, entries in sorted(getattr(get_registry(), table_name).items()):
        for e in entries:
            table.add_row(name if len(entries) == 1 else f"{e.dist}:{name}", f"{e.dist}=={e.version}",
                          *[_plain(str(x)) for x in extra(e)])
    _print_table(table)
