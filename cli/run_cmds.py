"""``zoo train``, ``zoo eval``, ``zoo predict``, ``zoo datasets``: torch is imported inside
each command, so ``zoo --help`` stays fast."""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from zoo_core.errors import ZooError

from .main import OVERRIDES_HELP, _plain, _print_table, command, out

RESUMABLE_KEYS = ("train.max_minutes", "train.max_steps", "device")


def _load(model_ref: str):
    from zoo_core.model import ZooModel

    return ZooModel.from_pretrained(model_ref)


@command()
def train(
    overrides: Optional[List[str]] = typer.Argument(None, help=OVERRIDES_HELP + ", data=PATH|DATASET, train.epochs=5",
                                                    show_default=False),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="folder for the model (default: runs/NAME-TIME)"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="continue the interrupted run saved in this folder"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar per epoch"),
):
    """Train a model on labelled text; saves the best checkpoint, a model card and a metrics log."""
    from zoo_core.atomic import has_checkpoint
    from zoo_core.lock import RunFolderBusy
    from zoo_core.train.loop import Trainer

    overrides = overrides or []
    if resume is not None:
        run, command_line = _resumed_run(resume, overrides)
        out_dir = resume
    else:
        run, command_line = _new_run(overrides, out_dir)
        out_dir = out_dir or _default_out(run)
    trainer = Trainer(run, out_dir, console=out, progress=progress and sys.stdout.isatty(),
                      max_steps=run.train.max_steps, command=command_line)
    created = resume is None and not Path(out_dir).exists()
    try:
        result = trainer.fit(resume=resume is not None)
    except ZooError as e:
        # a run that failed before saving anything (e.g. optim=adamw with embed.sparse=true at
        # the first step) leaves no half-empty folder behind; one this command did not create,
        # one holding a checkpoint, or one another run is writing to is never touched
        if created and Path(out_dir).is_dir() and not has_checkpoint(out_dir) and not isinstance(e, RunFolderBusy):
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    if result.rank == 0:  # under torchrun only rank 0 reports
        _summary(result, command_line, out_dir)


def _new_run(overrides: list[str], out_dir: Optional[Path]):
    from zoo_core.overrides import compose

    from zoo_core.atomic import has_checkpoint
    from zoo_core.data import resolve_paths
    from zoo_core.lock import check_not_busy

    run = compose(overrides, strict=True)  # strict: the same key twice on one command line is refused
    resolve_paths(run.data)  # --resume works from any folder; the card shows file names only
    if out_dir is not None and os.environ.get("RANK", "0") != "0":
        pass  # torchrun's other ranks: rank 0 checks the folder and holds its lock for all of them
    elif out_dir is not None:
        check_not_busy(out_dir)
    if out_dir is not None and os.environ.get("RANK", "0") == "0" and has_checkpoint(out_dir):
        raise ZooError(f"--out {out_dir}: a model is already saved there; choose another --out, "
                       f"or continue it with --resume {out_dir}")
    return run, "zoo train " + " ".join(overrides) if overrides else "zoo train"


def _default_out(run) -> Path:
    name = Path(run.data.source).stem if run.data.source else "run"
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _resumed_run(folder: Path, overrides: list[str]):
    """The saved run, with the few settings a resumed run may change."""
    from zoo_core.grammar import parse_pairs
    from zoo_core.lock import check_not_busy
    from zoo_core.train.state import run_from_state

    check_not_busy(folder)
    run, command_line = run_from_state(folder)
    pairs, problems = parse_pairs(overrides)
    bad = [f"{k}=..." for k, _ in pairs if k not in RESUMABLE_KEYS]
    if problems or bad:
        raise ZooError(*problems, *([f"--resume continues a run as it was configured; only "
                                     f"{', '.join(RESUMABLE_KEYS)} may change, not: {' '.join(bad)}"] if bad else []))
    for key, value in pairs:
        try:
            if key == "device":
                run.device = str(value)
            else:
                setattr(run.train, key.split(".")[1], value)
        except ValueError as e:  # pydantic: 'N validation errors', the field, the message, a URL
            lines = [l.strip() for l in str(e).splitlines()[1:] if l.strip() and "errors.pydantic.dev" not in l]
            raise ZooError(f"{key}={value}: {lines[-1] if lines else e}") from None
    return run, command_line


def _summary(result, command_line: str, out_dir) -> None:
    from zoo_core.tasks import metric_title

    table = Table(title=_plain(command_line), title_justify="left")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    table.add_row("stopped", result.stopped)
    table.add_row("epochs / steps", f"{result.epochs} / {result.steps}")
    table.add_row("training time", f"{result.seconds:.1f} s")
    table.add_row("parameters", f"{result.parameters:,}")
    for split, scores in (("best validation", result.best), ("test", result.test)):
        for key in result.metrics:
            if scores and key != "loss" and isinstance(scores.get(key), (int, float)):
                table.add_row(f"{split} {metric_title(key)}", f"{scores[key]:.4f}")
    table.add_row("saved to", _plain(str(out_dir)))
    _print_table(table)
    if result.stopped in ("max_minutes", "max_steps", "interrupted"):
        out.print(f"continue with: zoo train --resume {_plain(str(out_dir))}", highlight=False)


def _examples_for(data: str, split: str, seed: int):
    from zoo_core.data import load_splits, read_file
    from zoo_core.runspec import DataConfig

    if data.startswith("data=") and not Path(data).exists():  # zoo train's spelling, data=FILE, means FILE here too
        data = data[len("data="):]
    if Path(data).suffix.lower() in (".tsv", ".csv", ".jsonl", ".json") or Path(data).exists():
        return read_file(data), Path(data).stem
    splits = load_splits(DataConfig(source=data), seed=seed)
    part = getattr(splits, split, None)
    if part is None:
        raise ZooError(f"dataset {data} has no {split} split; use --split valid")
    return part, f"{data}:{split}"


@command("eval")
def eval_cmd(
    model_ref: str = typer.Argument(..., metavar="MODEL", help="a saved model folder"),
    data: str = typer.Argument(..., help="a .tsv/.csv/.jsonl file or a registered dataset name"),
    split: str = typer.Option("test", help="split of a registered dataset: test, valid or train"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    plot: Optional[Path] = typer.Option(None, help="confusion-matrix PNG (default: confusion_matrix.png in the "
                                                   "model's folder; none for a Hub model)"),
):
    """Score a model with its task's metrics: classification gives accuracy, macro-F1, per-class
    precision/recall and a confusion-matrix PNG; retrieval NDCG@k, MAP, recall@k; few-shot the
    episode accuracy with a 95% interval."""
    from zoo_core.plots import plot_confusion
    from zoo_core.tasks import get_task
    from zoo_core.batches import featurize_texts

    if split not in ("test", "valid", "train"):
        raise ZooError(f"--split {split}: use test, valid or train")
    model = _load(model_ref)
    task = get_task(model.run_spec.task)
    examples, name = _examples_for(data, split, model.run_spec.seed)
    if task.needs_labels_known:
        labels = list(model.labels or [])
        unknown = sorted(set(examples.labels) - set(labels))
        if unknown:
            raise ZooError(f"{data}: labels the model does not know: {unknown[:10]}; the model predicts "
                           f"{', '.join(labels[:20])}")
    else:  # retrieval / few-shot score the file's own groups, which the model need not know
        labels = sorted(set(examples.labels))
    index = {label: i for i, label in enumerate(labels)}
    features = featurize_texts(model, examples.texts)  # token ids in whole arrays where the embedder takes them
    report = task.evaluate(model, features, [index[l] for l in examples.labels], labels)
    report.setdefault("n", len(examples))
    has_classes = "per_class" in report and "confusion" in report
    if plot is None and has_classes and Path(str(model_ref)).is_dir():  # beside the model, never the cwd unasked
        plot = Path(str(model_ref)) / "confusion_matrix.png"
    if has_classes and plot is not None:
        plot_confusion(report, plot, title=f"{Path(str(model_ref)).name} on {name}: accuracy {report['accuracy']:.3f}")
    if as_json:
        if has_classes and plot is not None:
            report["confusion_plot"] = str(plot)
        report["task"] = model.run_spec.task
        typer.echo(json.dumps(report))
        return
    _print_table(_eval_table(report, task, f"{_plain(str(model_ref))} on {_plain(name)} ({report['n']} examples, "
                                          f"task {task.name})", has_classes))
    if has_classes and plot is not None:
        out.print(f"confusion matrix saved to {_plain(str(plot))}")


def _eval_table(report: dict, task, title: str, has_classes: bool) -> Table:
    from zoo_core.tasks import metric_title

    table = Table(title=title, title_justify="left")
    if has_classes:
        for col in ("class", "precision", "recall", "F1", "support"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for label, v in report["per_class"].items():
            table.add_row(_plain(label), f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
        table.add_section()
    else:
        table.add_column("metric")
        table.add_column("value", justify="right")
    for key in task.metrics:
        if isinstance(report.get(key), (int, float)) and key != "loss":
            cells = ("", "", f"{report[key]:.4f}", str(report["n"]) if key == task.primary_metric else "") \
                if has_classes else (f"{report[key]:.4f}",)
            table.add_row(metric_title(key), *cells)
    return table


@command()
def predict(
    model_ref: str = typer.Argument(..., metavar="MODEL", help="a saved model folder"),
    texts: Optional[List[str]] = typer.Argument(None, help="texts to classify (none or '-': one per stdin line)"),
    top_k: int = typer.Option(1, "--top-k", min=1, help="show the K most likely labels"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per text"),
    explain: bool = typer.Option(False, "--explain", help="show each token's attention weight for the decision"),
    explain_file: Optional[Path] = typer.Option(None, "--explain-file",
                                                help="also write the token weights as an .html or .png file"),
):
    """Classify texts with a saved model."""
    if explain_file is not None:
        from zoo_tools.explain import check_explain_path

        check_explain_path(explain_file)
    if not texts or texts == ["-"]:
        if sys.stdin.isatty():
            raise ZooError("no texts given; pass them as arguments or pipe one per line on stdin")
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    model = _load(model_ref)
    rows = model.predict(texts, top_k=top_k, explain=explain or explain_file is not None)
    if explain_file is not None:
        from zoo_tools.explain import write_explanations

        write_explanations(rows, explain_file)
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
            continue
        top = "  ".join(f"{label} {p:.3f}" for label, p in row["top"])
        out.print(f"{_plain(row['text'])}\t{top}", highlight=False, soft_wrap=True)  # one line per text, piped too
        if explain:
            out.print("  " + _explain_line(row), highlight=False)
    if explain_file is not None and not as_json:
        out.print(f"explanations written to {_plain(str(explain_file))}", highlight=False)


def _explain_line(row) -> str:
    if row.get("weights") is None:
        return "(this model's pooler returns no attention weights)"
    if row["weights"] and max(row["weights"]) - min(row["weights"]) < 1e-6:
        return (f"every token weighs {row['weights'][0]:.3f}: this model's pooler averages; for attention "
                f"explanations train with pool=seed_attention (e.g. recipe=lambda_seed)")
    peak = max(row["weights"]) or 1.0
    parts = []
    for token, w in zip(row["tokens"], row["weights"]):
        level = int(55 + 200 * (w / peak))
        parts.append(f"[on rgb({level},{max(0, 255 - level)},60)]{_plain(token)}[/] {w:.2f}")
    return "  ".join(parts)


@command()
def datasets():
    """Registered datasets (usable as data=NAME)."""
    from zoo_core.registry import get_registry

    table = Table()
    for col in ("name", "package", "licence", "summary"):
        table.add_column(col, overflow="fold")
    for name, entries in sorted(get_registry().datasets.items()):
        for d in entries:
            table.add_row(name if len(entries) == 1 else f"{d.dist}:{name}", f"{d.dist}=={d.version}", d.license,
                          _plain(d.summary))
    _print_table(table)
