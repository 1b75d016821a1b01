"""``zoo compare`` (grids, zoo_tools/sweep.py + leaderboard.py) and ``zoo tune`` (Optuna,
zoo_tools/tune.py). Torch is imported by the runs, never here, so ``zoo --help`` stays fast."""
from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import List, Optional

import typer

from zoo_core.errors import ZooError

from .main import _plain, _print_table, command, out

SWEEP_HELP = ("overrides with several values: mixer=lambda,gmlp seed=range(0,3) recipe=default,lambda_seed "
              "(tune also: train.lr=log(1e-4,1e-1) dim=choice(64,128) embed.num_bits=int(2**14,2**18,log))")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def _command_line(name: str, args: list[str]) -> str:
    return f"zoo {name} " + " ".join(shlex.quote(a) for a in args)


@command()
def compare(
    overrides: List[str] = typer.Argument(..., help=SWEEP_HELP, show_default=False),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="sweep folder (default: runs/compare-HASH of the "
                                                                 "command, so the same command continues it)"),
    jobs: int = typer.Option(1, "--jobs", min=1, help="trainings at once, in separate processes (threads split)"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run failed configurations again"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list the runs and stop"),
):
    """Train every combination and rank them: a leaderboard (mean ± std over seeds of the task's
    primary metric on validation, test beside it, parameters, time, throughput) saved as
    Markdown, CSV, JSON and PNG. Run the same command again to continue a stopped sweep."""
    from zoo_tools.leaderboard import build_rows, rich_table, write_all
    from zoo_tools.space import parse_space
    from zoo_tools.sweep import interruptible, load_results, plan, run_sweep, sweep_name

    interruptible()
    command_line = _command_line("compare", overrides)
    folder = out_dir or Path("runs") / sweep_name("compare", overrides)
    threads = max(1, cores() // jobs)
    runs = plan(parse_space(overrides), folder, threads)
    load_results(runs, retry_failed)
    if dry_run:
        for run in runs:
            out.print(f"{run.status:11} {_plain(' '.join(run.overrides))}", highlight=False)
        return
    folder.mkdir(parents=True, exist_ok=True)
    todo, bad = sum(r.result is None for r in runs), [r for r in runs if r.problem]
    out.print(f"sweep {_plain(str(folder))}: {len(runs)} runs, {len(runs) - todo - len(bad)} already done, "
              f"{len(bad)} cannot be built, {todo} to train, {min(jobs, max(todo, 1))} at a time with "
              f"threads={threads}", highlight=False)
    for run in bad:
        _report(run)
    finished = {id(r) for r in runs if r.result is not None}
    live = _live(out)

    def on_change():
        rows, metric = build_rows(runs)
        write_all(folder, rows, metric, command_line, png=False)
        if live is not None:
            live.update(rich_table(rows, metric, command_line), refresh=True)
        for run in runs:
            if run.result is not None and id(run) not in finished:
                finished.add(id(run))
                _report(run)

    if live is not None:
        live.start()
    try:
        completed = run_sweep(runs, jobs, threads, on_change)
    finally:
        if live is not None:
            live.stop()
    rows, metric = build_rows(runs)
    written = write_all(folder, rows, metric, command_line)
    _print_table(rich_table(sorted(rows, key=lambda r: (r.valid_mean is None, -(r.valid_mean or 0))), metric,
                            command_line))
    out.print("saved: " + ", ".join(_plain(str(p)) for p in written), highlight=False)
    if not completed:
        out.print(f"stopped; run the same command again to continue (finished runs are kept, interrupted ones "
                  f"resume){'' if out_dir is None else f' with --out {_plain(str(folder))}'}", highlight=False)
        raise typer.Exit(130)


def _live(console):
    if not console.is_terminal:
        return None
    from rich.live import Live

    return Live(console=console, auto_refresh=False, transient=True)


def _report(run) -> None:
    r = run.result
    name = f"{run.config} seed={run.seed}"
    if r["status"] == "ok":
        resumed = " (resumed)" if r.get("resumed") else ""
        out.print(f"done   {_plain(name)}: valid {r['metric']} {r['valid'].get(r['metric'], float('nan')):.4f}, "
                  f"{r['seconds']:.1f} s{resumed}", highlight=False)
    else:
        out.print(f"failed {_plain(name)}: {_plain(r['reason'])}", highlight=False)


@command()
def tune(
    overrides: List[str] = typer.Argument(..., help=SWEEP_HELP, show_default=False),
    trials: int = typer.Option(20, "--trials", min=1, help="trials the study should hold when done (finished ones "
                                                           "count, so running again continues)"),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=1, help="stop starting trials after this many seconds"),
    jobs: int = typer.Option(1, "--jobs", min=1, help="worker processes sharing the study (threads split)"),
    storage: Optional[str] = typer.Option(None, "--storage", help="an Optuna RDB URL shared by workers on several "
                                                                  "machines (default: sqlite:///SWEEP/study.db)"),
    study_name: str = typer.Option("zoo", "--study", help="study name inside the storage"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="sweep folder (default: runs/tune-HASH of the command)"),
    pruner: str = typer.Option("median", "--pruner", help="median (Optuna's MedianPruner on the per-epoch "
                                                          "validation metric) or none"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed of the TPE sampler (reproducible suggestions)"),
):
    """Search hyper-parameters with Optuna (TPE sampler, pruning on the per-epoch validation
    metric). Decisions use validation only; the best trial alone is scored on test. Prints the
    best configuration as the zoo train command that reproduces it, and parameter importances."""
    from zoo_tools import tune as tuning
    from zoo_tools.sweep import sweep_name
    from zoo_tools.tune_report import summarize

    if pruner not in ("median", "none"):
        raise ZooError(f"--pruner {pruner}: use median or none")
    tuning.require_optuna()
    tuning.interruptible()
    folder = out_dir or Path("runs") / sweep_name("tune", overrides)
    ctx = tuning.TuneContext.create(overrides, folder, storage=storage, study=study_name, trials=trials,
                                    timeout=timeout, pruner=pruner, seed=seed, threads=max(1, cores() // jobs))
    out.print(f"study {_plain(ctx.study)} in {_plain(ctx.storage)}: {ctx.finished()} of {trials} trials done; "
              f"trial folders under {_plain(str(folder / 'trials'))}", highlight=False)
    completed = tuning.optimize(ctx, jobs, console=out)
    summary = summarize(ctx, console=out)
    if summary is not None:
        _print_table(summary)
    if not completed:
        out.print("stopped; run the same command again to continue (the interrupted trial resumes)", highlight=False)
        raise typer.Exit(130)
