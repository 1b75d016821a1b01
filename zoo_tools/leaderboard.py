"""The leaderboard of a sweep: one row per configuration, its runs' seeds aggregated as mean ±
sample standard deviation of the task's primary metric (validation decides the order and the
best row; test is shown beside it), parameters, training seconds, training examples/s and
prediction texts/s; written as Markdown, CSV, JSON and a PNG (metric with error bars against
training time and against parameters). A failed configuration keeps its row, with its reason.
"""
from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from zoo_core.tasks import metric_title

FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "leaderboard.png")


@dataclass
class Row:
    config: str
    seeds: int = 0  # runs that finished
    runs: int = 0  # runs planned
    valid_mean: float | None = None
    valid_std: float | None = None
    test_mean: float | None = None
    test_std: float | None = None
    parameters: int | None = None
    train_seconds: float | None = None
    train_seconds_std: float | None = None
    examples_per_s: float | None = None
    predict_texts_per_s: float | None = None
    status: str = ""
    best: bool = False
    results: list = field(default_factory=list, repr=False)


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def build_rows(runs) -> tuple[list[Row], str | None]:
    """Rows in plan order (the best marked) and the metric they rank by."""
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(run.config, []).append(run)
    rows, metric = [], None
    for config, members in groups.items():
        ok = [r.result for r in members if r.result and r.result["status"] == "ok"]
        metric = metric or next((r["metric"] for r in ok), None)
        row = Row(config, seeds=len(ok), runs=len(members), results=[r.result for r in members if r.result])
        if ok:
            row.valid_mean, row.valid_std = mean_std([r["valid"].get(r["metric"]) for r in ok])
            row.test_mean, row.test_std = mean_std([(r["test"] or {}).get(r["metric"]) for r in ok])
            row.parameters = ok[0]["parameters"]
            row.train_seconds, row.train_seconds_std = mean_std([r["seconds"] for r in ok])
            row.examples_per_s = mean_std([r["examples_per_s"] for r in ok])[0]
            row.predict_texts_per_s = mean_std([r["predict_texts_per_s"] for r in ok])[0]
        row.status = _status(members)
        rows.append(row)
    scored = [r for r in rows if r.valid_mean is not None]
    if scored:
        max(scored, key=lambda r: r.valid_mean).best = True
    return rows, metric


def _status(members) -> str:
    counts: dict[str, int] = {}
    for run in members:
        counts[run.status] = counts.get(run.status, 0) + 1
    failed = [r.result["reason"] for r in members if r.result and r.result["status"] == "failed"]
    if counts.get("ok") == len(members):
        return "ok"
    parts = [f"{n} {s}" for s, n in counts.items() if s not in ("ok", "failed")]
    if failed:
        parts.append(("failed: " if len(failed) == len(members) else f"{len(failed)} of {len(members)} failed: ")
                     + failed[0])
    return "; ".join(parts)


def ranked(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r.valid_mean is None, -(r.valid_mean or 0.0)))


def _pm(mean, std, digits=4) -> str:
    if mean is None:
        return "—"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std else f"{mean:.{digits}f}"


def _num(value, fmt="{:,.0f}") -> str:
    return "—" if value is None else fmt.format(value)


HEADERS = ("", "configuration", "valid {m}", "test {m}", "parameters", "train s", "examples/s", "predict texts/s",
           "seeds", "status")


def cells(row: Row) -> list[str]:
    return ["★" if row.best else "", row.config, _pm(row.valid_mean, row.valid_std), _pm(row.test_mean, row.test_std),
            _num(row.parameters), _pm(row.train_seconds, row.train_seconds_std, 1), _num(row.examples_per_s),
            _num(row.predict_texts_per_s), f"{row.seeds}/{row.runs}", row.status]


def rich_table(rows: list[Row], metric: str | None, title: str = ""):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    for h in HEADERS:
        table.add_column(h.format(m=metric_title(metric or "metric")), overflow="fold",
                         justify="left" if h in ("", "configuration", "status") else "right")
    for row in rows:
        table.add_row(*(escape(c) for c in cells(row)), style="bold green" if row.best else None)
    return table


def write_all(folder: Path, rows: list[Row], metric: str | None, command: str, png: bool = True) -> list[Path]:
    """Markdown, CSV, JSON and (when something finished) the PNG; returns the files written."""
    rows = ranked(rows)
    m = metric_title(metric or "metric")
    md = [f"`{command}`", "", f"Ranked by validation {m} (mean ± standard deviation over seeds); ★ the best.",
          "", "| " + " | ".join(h.format(m=m) for h in HEADERS) + " |",
          "|" + "|".join("---:" if h not in ("", "configuration", "status") else "---" for h in HEADERS) + "|"]
    md += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for r in rows]
    written = [folder / "leaderboard.md", folder / "leaderboard.csv", folder / "leaderboard.json"]
    written[0].write_text("\n".join(md) + "\n", encoding="utf-8")
    fields = [f for f in Row.__dataclass_fields__ if f != "results"]
    with open(written[1], "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: v for k, v in asdict(r).items() if k in fields})
    written[2].write_text(json.dumps({"command": command, "metric": metric, "rows": [asdict(r) for r in rows]},
                                     indent=1), encoding="utf-8")
    if png and any(r.valid_mean is not None for r in rows):
        written.append(plot(rows, metric, folder / "leaderboard.png", command))
    return written


def plot(rows: list[Row], metric: str | None, path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r.valid_mean is not None]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for ax, (xs, xerr, label) in zip(axes, (([r.train_seconds for r in rows], [r.train_seconds_std for r in rows],
                                              "training seconds (mean over seeds)"),
                                             ([r.parameters for r in rows], None, "parameters"))):
        for i, r in enumerate(rows):
            ax.errorbar(xs[i], r.valid_mean, yerr=r.valid_std or 0, xerr=(xerr[i] or 0) if xerr else None,
                        fmt="*" if r.best else "o", ms=12 if r.best else 6, capsize=3,
                        color="tab:green" if r.best else "tab:blue")
            ax.annotate(r.config, (xs[i], r.valid_mean), fontsize=7, xytext=(4, 4), textcoords="offset points")
        if len(xs) > 1 and min(xs) > 0 and max(xs) / min(xs) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"validation {metric_title(metric or 'metric')} (± std over seeds)")
    fig.suptitle(title[:140], fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
