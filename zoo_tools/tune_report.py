"""What ``zoo tune`` reports at the end: the trials (trials.csv), the best configuration as the
exact ``zoo train`` command that reproduces it, the best trial's test score (the only test score
the search ever computes), and each parameter's importance (Optuna's fANOVA) as a table and PNG."""
from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path

from zoo_core.tasks import metric_title

from .tune import TuneContext, trial_line


def summarize(ctx: TuneContext, console=None):
    """Write best.json, trials.csv, importance.{md,png}; return a rich table of the best trials."""
    study = ctx.open_study()
    trials = study.get_trials(deepcopy=False)
    _write_trials(ctx.folder / "trials.csv", trials)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if not complete:
        if console is not None:
            console.print("no trial completed yet; nothing to report", highlight=False)
        return None
    best = max(complete, key=lambda t: t.value)
    metric = best.user_attrs.get("metric", "accuracy")
    command = "zoo train " + " ".join(shlex.quote(o) for o in best.user_attrs["overrides"])
    test = test_score(Path(best.user_attrs["run_dir"]))
    (ctx.folder / "best.json").write_text(json.dumps({
        "trial": best.number, "metric": metric, "valid": best.value, "test": test, "params": best.params,
        "overrides": best.user_attrs["overrides"], "command": command, "run_dir": best.user_attrs["run_dir"]},
        indent=1))
    importances = write_importances(ctx.folder, study)
    if console is not None:
        _print_end(console, ctx, best, metric, command, test, importances)
    return _table(complete, metric)


def test_score(folder: Path) -> dict | None:
    """The best trial's checkpoint on its data's test split (None when the data has none)."""
    from zoo_core.data import load_splits
    from zoo_core.model import ZooModel
    from zoo_core.tasks import get_task
    from zoo_core.tokenize import Tokenizer

    model = ZooModel.from_pretrained(folder)
    run = model.run_spec
    splits = load_splits(run.data, seed=run.seed)
    if splits.test is None or not len(splits.test):
        return None
    task = get_task(run.task)
    labels = list(model.labels)
    index = {label: i for i, label in enumerate(labels)}
    known = [i for i, y in enumerate(splits.test.labels) if y in index]
    tokens = Tokenizer(run.tokenizer).batch([splits.test.texts[i] for i in known])
    report = task.evaluate(model, tokens, [index[splits.test.labels[i]] for i in known], labels)
    return {k: report[k] for k in task.metrics if isinstance(report.get(k), (int, float))} | {"n": len(known)}


def _write_trials(path: Path, trials) -> None:
    params = sorted({k for t in trials for k in t.params})
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["trial", "state", "valid", *params, "seconds", "parameters", "note", "run_dir"])
        for t in trials:
            note = t.user_attrs.get("failure") or ("interrupted" if t.user_attrs.get("interrupted") else "")
            if t.user_attrs.get("resumed"):
                note = f"resumed trial {t.user_attrs['resume_of']}"
            w.writerow([t.number, t.state.name.lower(), t.value if t.value is not None else "",
                        *(t.params.get(p, "") for p in params), t.user_attrs.get("seconds", ""),
                        t.user_attrs.get("parameters", ""), note, t.user_attrs.get("run_dir", "")])


def write_importances(folder: Path, study) -> dict[str, float] | None:
    """fANOVA importances over the completed trials (None with fewer than 2, or nothing varied)."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    try:
        imp = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):  # e.g. every trial had the same parameters
        return None
    lines = ["| parameter | importance (fANOVA, share of the validation metric's variance) |", "|---|---:|"]
    lines += [f"| `{k}` | {v:.3f} |" for k, v in imp.items()]
    (folder / "importance.md").write_text(
        f"Over {len(complete)} completed trials.\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(names)))
    ax.barh(names, [imp[n] for n in names], color="tab:blue")
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title(f"parameter importance over {len(complete)} trials", fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "importance.png", dpi=110)
    plt.close(fig)
    return imp


def _print_end(console, ctx, best, metric, command, test, importances) -> None:
    from rich.markup import escape

    title = metric_title(metric)
    console.print(f"best: trial {best.number}, validation {title} {best.value:.4f}", highlight=False)
    if test:
        console.print(f"test {title} of the best trial (the only test score computed): {test[metric]:.4f} "
                      f"on {test['n']} examples", highlight=False)
    console.print("reproduce it with:", highlight=False)
    console.print(escape(command), highlight=False, soft_wrap=True)
    if importances:
        console.print("importance: " + ", ".join(f"{escape(k)} {v:.2f}" for k, v in importances.items()),
                      highlight=False)
    files = [n for n in ("best.json", "trials.csv", "importance.md", "importance.png") if (ctx.folder / n).exists()]
    console.print(f"saved in {escape(str(ctx.folder))}: {', '.join(files)}", highlight=False)


def _table(complete, metric: str):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"best trials by validation {metric_title(metric)}", title_justify="left")
    for col in ("trial", "valid", "seconds", "parameters"):
        table.add_column(col, justify="right" if col != "parameters" else "left", overflow="fold")
    for t in sorted(complete, key=lambda t: -t.value)[:10]:
        line = trial_line(t).split("  ", 1)[1] if "  " in trial_line(t) else ""
        table.add_row(str(t.number), f"{t.value:.4f}", str(t.user_attrs.get("seconds", "")), escape(line))
    return table
