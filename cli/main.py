"""The ``zoo`` command line. ``--help``, ``list``, ``info`` and ``plugins`` never import torch."""
from __future__ import annotations

import sys
import warnings

import click
import typer
from rich.console import Console
from rich.table import Table

from zoo_core.errors import ZooError, ZooPluginWarning

app = typer.Typer(
    name="zoo",
    help="Compose, train, share and load small CPU-efficient NLP models from plugin components.\n\n"
         "Components are chosen with KEY=VALUE overrides, e.g.\n\n"
         "  zoo build embed=hash mixer=lambda pool=seed_attention loss=cross_entropy optim=smorms3",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False)

OVERRIDES_HELP = ("KEY=VALUE overrides: embed=hash, mixer=[lambda,self_attention], mixer.heads=4, "
                  "embed.num_bits=256, dim=128, recipe=NAME")


def _print_version(value: bool) -> None:
    if value:
        from importlib import metadata

        try:
            version = metadata.version("zoo-nlp")
        except metadata.PackageNotFoundError:
            version = "0+unknown (not installed: running from a source tree)"
        typer.echo(f"zoo {version} (python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="print zoo's version and exit")) -> None:
    pass


COMMANDS: list[tuple] = []  # (function, name, typer options) of zoo's own commands


def command(name: str | None = None, **options):
    """Mark a function as a zoo command; zoo_cli.commands registers it through the
    ``zoo_register_commands`` hook, as a third-party plugin would."""
    def mark(fn):
        COMMANDS.append((fn, name, options))
        return fn

    return mark


def _print_table(table: Table) -> None:
    out.print(table)


def _plain(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# ---- entry point -----------------------------------------------------------------------
def _format_warning(message, category, filename, lineno, file=None, line=None):
    return f"warning: {message}\n"


def _add_commands() -> None:
    """Every plugin's commands, zoo's own included (zoo_cli.commands), through the
    ``zoo_register_commands`` hook."""
    from zoo_core.registry import add_commands

    if not app.registered_commands:
        add_commands(app)


def _click_exception_classes() -> dict[str, tuple]:
    """Recent typer releases vendor click as ``typer._click``; catch its exceptions and click's."""
    import importlib

    modules = [click.exceptions]
    try:
        modules.append(importlib.import_module("typer._click.exceptions"))
    except ImportError:
        pass
    return {name: tuple(getattr(m, name) for m in modules if hasattr(m, name))
            for name in ("Exit", "Abort", "ClickException")}


_CLICK = _click_exception_classes()


def main(argv: list[str] | None = None) -> None:
    warnings.formatwarning = _format_warning
    warnings.simplefilter("default", ZooPluginWarning)
    try:
        _add_commands()
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:  # typer.Exit(code) comes back as the return value here
            sys.exit(rc)
    except ZooError as e:
        for problem in e.problems:
            sys.stderr.write(f"error: {problem}\n")
        sys.exit(e.exit_code)
    except _CLICK["Exit"] as e:
        sys.exit(e.exit_code)
    except _CLICK["Abort"]:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except _CLICK["ClickException"] as e:  # usage errors: "No such command 'trian'. Did you mean 'train'?"
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
