"""``zoo doctor``: the recipe checks before a long run ("Sharing Useful Hints How To Train
Neural Nets", "Flow Gradient, Please Flow, Darn It!", "Avoid Collapsed Token
Representations"). Torch is imported inside the command, so ``zoo --help`` stays fast."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from .main import OVERRIDES_HELP, _plain, _print_table, command, out

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "n/a": "dim"}


@command()
def doctor(
    overrides: Optional[List[str]] = typer.Argument(None, help=OVERRIDES_HELP + ", data=PATH|DATASET",
                                                    show_default=False),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="folder for grad_flow.png, grad_flow.jsonl, doctor.json "
                                                               "(default: runs/doctor-TIME, like zoo train)"),
    steps: int = typer.Option(300, "--steps", min=1, help="most optimizer steps for overfitting one batch"),
    batch: int = typer.Option(16, "--batch", min=2, help="examples in the batch to overfit"),
    as_json: bool = typer.Option(False, "--json", help="print the checks as one JSON object"),
):
    """Check a recipe before a long run: initial loss vs -log(1/C), overfitting one small batch,
    gradient reaching every parameter, gradient flow per layer, conicity of token states,
    codebook usage. Exit code 1 when a check fails."""
    from zoo_core.overrides import compose
    from zoo_core.train.callbacks import GRAD_FLOW_PNG
    from zoo_tools.doctor import DOCTOR_JSON, run_doctor

    run = compose(overrides or [], strict=True)
    out_dir = out_dir or Path("runs") / f"doctor-{time.strftime('%Y%m%d-%H%M%S')}"
    checks = run_doctor(run, out_dir, overfit_examples=batch, max_steps=steps)
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        typer.echo(json.dumps({"checks": [{k: getattr(c, k) for k in ("name", "status", "value", "advice")}
                                          for c in checks],
                               "grad_flow_png": str(out_dir / GRAD_FLOW_PNG), "failed": failed}))
    else:
        title = "zoo doctor " + " ".join(overrides or [])
        table = Table(title=_plain(title.strip()), title_justify="left")
        table.add_column("check", min_width=16)
        table.add_column("result", no_wrap=True)
        table.add_column("value", overflow="fold", ratio=1)
        for c in checks:
            style = STATUS_STYLE.get(c.status, "")
            table.add_row(c.name, f"[{style}]{c.status}[/]", _plain(c.value))
        _print_table(table)
        advice = [c for c in checks if c.advice and c.status in ("warn", "fail")]
        if advice:
            out.print("what to try next:", style="bold")
            for c in advice:
                out.print(f"  {c.name} ({c.status}): {_plain(c.advice)}", highlight=False)
        out.print(f"gradient-flow chart: {_plain(str(out_dir / GRAD_FLOW_PNG))}; "
                  f"details: {_plain(str(out_dir / DOCTOR_JSON))}", highlight=False)
    if failed:
        raise SystemExit(1)  # not typer.Exit: with standalone_mode=False click returns its code instead of exiting
