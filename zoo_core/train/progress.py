"""What a person sees while a run works: rich progress bars (transient, on the run's console).
Each function returns a started bar and its task id."""
from __future__ import annotations


def progress_bar(console, label: str, total: int, completed: int = 0):
    """A bar with a count and the time elapsed, for long preparation steps (reading a big file)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                        transient=True)
    progress.start()
    return progress, progress.add_task(label, total=total, completed=completed)


def epoch_bar(console, label: str, total: int, completed: int = 0):
    """A bar for one epoch's batches, with the running loss, accuracy and examples/s."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("acc {task.fields[acc]:.3f}"),
                        TextColumn("{task.fields[rate]:.0f} ex/s"), TimeElapsedColumn(), console=console,
                        transient=True)
    progress.start()
    return progress, progress.add_task("train", total=total, completed=completed, loss=0.0, acc=0.0, rate=0.0)
