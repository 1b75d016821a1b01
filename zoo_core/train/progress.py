"""What a person sees while a run works: rich progress bars (transient, on the run's console)."""
from __future__ import annotations


def progress_bar(console, title: str):
    """A bar with a count and the time elapsed, for long preparation steps."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(title), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                    transient=True)


def epoch_bar(console, epoch: int, epochs: int, done: int, total: int):
    """A started bar for one epoch's batches, with the running loss, accuracy and examples/s;
    returns (progress, task id)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("acc {task.fields[acc]:.3f}"),
                        TextColumn("{task.fields[rate]:.0f} ex/s"), TimeElapsedColumn(), console=console,
                        transient=True)
    progress.start()
    return progress, progress.add_task("train", total=total, completed=done, loss=0.0, acc=0.0, rate=0.0)
