"""``zoo new-plugin`` (scaffold a third-party plugin package) and ``zoo check`` (run the
contract kit on installed components). Nothing here imports torch or discovers plugins at
import time, so ``zoo --help`` stays fast."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from zoo_core.errors import ZooError

from .main import _plain, _print_table, command, out


@command("new-plugin")
def new_plugin(
    name: str = typer.Argument(..., help="the method's name, e.g. token_shift (package zoo-token-shift)"),
    kind: str = typer.Option("mixer", "--kind", help="embed, mixer, pool, loss or optim"),
    out_dir: Path = typer.Option(Path("."), "--out", help="parent folder; the package is written to OUT/zoo-NAME"),
):
    """Scaffold a pip-installable plugin: a working component, its config, contract tests, a README."""
    from importlib import metadata

    from zoo_core.registry import KIND_TITLES, get_registry, normalize_kind
    from zoo_tools.scaffold import PluginNames, scaffold

    names = PluginNames.of(name)
    try:
        kind_key = normalize_kind(kind)
    except ZooError:
        kind_key = kind  # scaffold() reports the bad kind with the choices
    taken = get_registry().components.get((kind_key, names.component), [])
    if taken:
        raise ZooError(f"'{name}': {', '.join(c.dist for c in taken)} already provides {kind_key}:{names.component}; "
                       f"pick another name so that {kind_key}={names.component} stays unambiguous")
    try:
        zoo_version = metadata.version("zoo-nlp")
    except metadata.PackageNotFoundError:  # running from a source tree
        zoo_version = "0.1.0"
    root = scaffold(name, kind, out_dir, zoo_version=zoo_version)
    kind_key = normalize_kind(kind)
    out.print(f"created {_plain(str(root))}: distribution {names.dist} providing the {KIND_TITLES[kind_key]} "
              f"{kind_key}:{names.component}")
    out.print("next:")
    python = _plain(sys.executable)  # this environment's, not whatever pip/pytest come first on PATH
    out.print(f"  {python} -m pip install -e {_plain(str(root))}")
    out.print(f"  {python} -m pytest {_plain(str(root))}")
    out.print(f"  zoo build {kind_key}={names.component}")
    out.print(f"then replace the starting method in {_plain(str(root / names.package / (names.component + '.py')))} "
              f"with yours")


@command()
def check(
    target: str = typer.Argument(..., help="a distribution (checks all it provides), KIND:NAME or KIND:DIST:NAME"),
    fields: Optional[List[str]] = typer.Argument(None, help="FIELD=VALUE config of a single component, e.g. heads=2",
                                                 show_default=False),
    dim: int = typer.Option(16, "--dim", help="model width the components are built with"),
):
    """Run zoo's contract kit on installed components and print a pass/fail table (exit 1 on a failure)."""
    from zoo_core.registry import get_registry

    reg = get_registry()
    components = resolve_targets(reg, target)
    config = parse_fields(fields or [])
    if config and len(components) > 1:
        raise ZooError(f"{target}: provides {len(components)} components; give FIELD=VALUE only with one, "
                       f"e.g. zoo check {components[0].kind}:{components[0].name} {fields[0]}")
    if dim <= 0:
        raise ZooError(f"--dim {dim}: the model width must be positive, e.g. --dim 16")
    if config:  # a typo in a field is the user's error (exit 2), not a failed check
        from zoo_core.factory import try_resolve

        comp = components[0]
        _, problems = try_resolve(comp.kind, f"{comp.dist}:{comp.name}", config, dim, reg, comp.kind)
        if problems:
            raise ZooError(*problems)

    table = Table(title=f"zoo check {_plain(target)}", title_justify="left")
    for col in ("component", "package", "check", "result", "detail"):
        table.add_column(col, overflow="fold")
    failed = total = 0
    for comp in components:
        from zoo_tools.testing import check_component  # imports torch: only when there is something to check

        for r in check_component(comp.kind, f"{comp.dist}:{comp.name}", dim=dim, **config):
            total += 1
            failed += not r.ok
            table.add_row(comp.key, f"{comp.dist}=={comp.version}", r.check, "pass" if r.ok else "FAIL",
                          _plain(r.detail if not r.ok else ""))
    broken = [p for p in reg.plugins if p.error and _dist_matches(p.dist, target)]
    _print_table(table)
    for p in broken:
        failed += 1
        out.print(f"FAIL {_plain(p.dist)}: plugin '{_plain(p.entry_point)}' {_plain(p.error)}")
    out.print(f"{len(components)} component(s), {total} checks: "
              + (f"{failed} failed" if failed else "all passed"))
    if failed:
        # a ZooError (not typer.Exit: main() runs click with standalone_mode=False, which turns
        # Exit into a return value that is dropped) so that the exit code is 1
        error = ZooError(f"{target}: {failed} check(s) failed; see the table above (zoo_tools.testing documents "
                         f"each check)")
        error.exit_code = 1
        raise error


def _dist_matches(dist: str, target: str) -> bool:
    from zoo_core.refs import normalize_dist

    return normalize_dist(dist) == normalize_dist(target)


def resolve_targets(reg, target: str) -> list:
    """The components ``zoo check TARGET`` means: KIND:NAME, KIND:DIST:NAME, a distribution, or a
    component name unique across kinds. Unknown targets are a ZooError (exit 2) with suggestions."""
    from zoo_core.errors import did_you_mean
    from zoo_core.registry import KIND_ALIASES, KINDS

    head, sep, rest = target.partition(":")
    if sep and (head in KINDS or head in KIND_ALIASES):
        return [reg.resolve(head, rest)]
    comps = [c for c in reg.all_components() if _dist_matches(c.dist, target)]
    if comps:
        return comps
    if any(_dist_matches(p.dist, target) for p in reg.plugins):
        return []  # installed but registered nothing (it failed to load): reported as a failure
    named = [c for c in reg.all_components() if c.name == target]
    if len(named) == 1:
        return named
    if len(named) > 1:
        raise ZooError(f"{target}: several components have this name; pick one: "
                       + ", ".join(c.qualified for c in named))
    dists = sorted({p.dist for p in reg.plugins})
    choices = dists + [c.key for c in reg.all_components()]
    raise ZooError(f"{target}: no installed distribution or component of that name;{did_you_mean(target, choices)} "
                   f"distributions: {', '.join(dists)}; or write KIND:NAME, e.g. mixer:lambda (see zoo list)")


def parse_fields(fields: list[str]) -> dict:
    from zoo_core.grammar import parse_pairs

    pairs, problems = parse_pairs(fields)
    if problems:
        raise ZooError(*[f"{p.split(':')[0]}: write FIELD=VALUE, e.g. heads=2 (zoo info KIND:NAME lists the fields)"
                         for p in problems])
    return dict(pairs)
