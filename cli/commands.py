"""zoo's own commands, registered through the ``zoo_register_commands`` hook like a third
party's (entry point ``builtin_commands``). Importing this module is cheap (no torch)."""
from zoo_core import hookimpl


@hookimpl
def zoo_register_commands(cli):
    import importlib

    from .main import COMMANDS

    for module in ("component_cmds", "run_cmds", "sweep_cmds", "plugin_cmds", "hub_cmds", "doctor_cmds",
                   "export_cmds"):
        importlib.import_module(f"{__package__}.{module}")  # in --help order; each marks its commands

    for fn, name, options in COMMANDS:
        cli.command(name, **options)(fn)
