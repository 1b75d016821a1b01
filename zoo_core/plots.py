"""Plots of training and evaluation: the training curves, the gradient-flow chart and the
confusion matrix, all PNG files written with matplotlib's Agg backend (no display needed).

Posts: "Flow Gradient, Please Flow, Darn It!" (per layer, the mean |grad| without biases as
a bar chart); "Sharing Useful Hints How To Train Neural Nets" (watch the loss and
gradient-norm curves). matplotlib is imported on the first plot, never by ``zoo --help``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no window), set up on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_grad_flow(means: dict[str, float], path: str | Path, *, maxima: dict[str, float] | None = None,
                   blocked: set[str] = frozenset(), title: str = "gradient flow", steps: int | None = None) -> Path:
    """Horizontal bars (one per layer, network order top to bottom) of the mean |grad| on a
    log axis, the largest step as a tick; layers without gradient drawn in red at the floor."""
    plt = pyplot()
    layers = list(means)
    vals = np.array([means[k] for k in layers], dtype=float)
    positive = vals[vals > 0]
    floor = (positive.min() / (10 if len(positive) < len(vals) else 3)) if len(positive) else 1e-12
    top = max([v for v in (maxima or means).values()] + [floor * 100])
    shown = np.where(vals > 0, vals, floor)
    colours = ["#d62728" if (k in blocked or means[k] <= 0) else "#1f77b4" for k in layers]
    longest = max((len(k) for k in layers), default=10)
    fig, ax = plt.subplots(figsize=(7 + 0.07 * longest, max(2.5, 0.32 * len(layers) + 1.4)))
    y = np.arange(len(layers))
    ax.barh(y, shown, color=colours, alpha=0.85, label="mean over steps" if steps and steps > 1 else "mean |grad|")
    if maxima and steps and steps > 1:
        mx = np.array([maxima.get(k, 0.0) for k in layers])
        has = mx > 0
        ax.scatter(mx[has], y[has], marker="|", s=120, color="black", label="largest step", zorder=3)
    for yi, k, v, w in zip(y, layers, vals, shown):
        if v <= 0 or k in blocked:
            ax.text(w * 1.15, yi, "0: no gradient" if v <= 0 else f"{v:.1e}: near zero", va="center",
                    fontsize=8, color="#a01010")
    ax.set_xscale("log")
    ax.set_xlim(floor / 2, top * 3)
    ax.set_yticks(y, layers, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("mean |grad| (biases excluded), log scale")
    ax.grid(True, axis="x", which="major", alpha=0.4)
    ax.set_title(title + (f" ({steps} steps)" if steps and steps > 1 and "steps" not in title else ""), fontsize=11)
    if maxima and steps and steps > 1 or blocked:
        handles, labels = ax.get_legend_handles_labels()
        if blocked or (vals <= 0).any():
            from matplotlib.patches import Patch

            handles.append(Patch(color="#d62728", alpha=0.85))
            labels.append("near zero / blocked")
        ax.legend(handles, labels, loc="lower right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)



def _smooth(values, window: int):
    v = np.asarray(values, dtype=float)
    if window <= 1 or len(v) < 3:
        return v
    kernel = np.ones(window)
    return np.convolve(v, kernel, "same") / np.convolve(np.ones_like(v), kernel, "same")


MARKED_EPOCHS = 200  # epoch rows drawn with a marker each; more (e.g. a full-batch run) as plain lines


def _plot_metrics(ax, ex: list[int], epochs: list[dict], metrics: tuple[str, ...], primary: str) -> None:
    series = metric_series(epochs, metrics)
    if not series:
        ax.text(0.5, 0.5, "no epoch finished yet", ha="center", va="center", transform=ax.transAxes)
        return
    dots = len(epochs) <= MARKED_EPOCHS  # a long run's markers would hide its curves
    if all("train_accuracy" in r for r in epochs) and "accuracy" in series:
        ax.plot(ex, [r["train_accuracy"] for r in epochs], "o--" if dots else "--", color="#555555", lw=1,
                label="train accuracy")
    for name, values in series.items():
        ax.plot(ex, values, ("s-" if name == primary else ".-") if dots else "-", label=f"valid {name}")
    if primary in series:
        best = max(range(len(epochs)), key=lambda i: series[primary][i])
        ax.annotate(f"best {primary} {series[primary][best]:.3f}", (ex[best], series[primary][best]),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_title("validation metrics")


def _log_if_wide(ax, values) -> None:
    """Log scale only when the values span more than 20x (a long run's loss); plain
    numbers on the axis either way."""
    from matplotlib.ticker import ScalarFormatter

    positive = [v for v in values if v and v > 0 and math.isfinite(v)]
    if positive and max(positive) / min(positive) > 20:
        ax.set_yscale("log")
    else:
        ax.yaxis.set_major_formatter(ScalarFormatter())


def metric_series(epochs: list[dict], metrics: tuple[str, ...]) -> dict[str, list[float]]:
    """The validation curves of a task's own metrics (``valid_<name>`` columns of the epoch
    rows), by name; the loss has its own panel."""
    return {m: [r[f"valid_{m}"] for r in epochs] for m in metrics
            if m != "loss" and epochs and all(f"valid_{m}" in r for r in epochs)}


def plot_curves(steps: list[dict], epochs: list[dict], path: str | Path, clip: float | None = None,
                title: str = "", metrics: tuple[str, ...] = ("accuracy",), primary: str = "accuracy",
                log_steps: bool = False) -> Path:
    """Loss (steps and epochs), the task's validation metrics under their own names (the
    primary one's best marked), learning rate and gradient norm: a 2x2 PNG; ``log_steps``
    draws every panel against a log-scale step axis."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    (ax_loss, ax_metric), (ax_lr, ax_norm) = axes
    x = [r["step"] for r in steps]
    window = max(1, len(steps) // 50)
    if steps:
        ax_loss.plot(x, [r["loss"] for r in steps], color="#1f77b4", alpha=0.25 if window > 1 else 0.6, lw=0.8,
                     label="train (step)")
        if window > 1:
            ax_loss.plot(x, _smooth([r["loss"] for r in steps], window), color="#1f77b4", lw=1.6,
                         label=f"train ({window}-step mean)")
    ex = [r["step"] for r in epochs]
    losses = [k for k in ("train_loss", "valid_loss") if epochs and all(k in r for r in epochs)]
    for key, style, colour in (("train_loss", "o-", "#1f77b4"), ("valid_loss", "s-", "#ff7f0e")):
        if key in losses:
            ax_loss.plot(ex, [r[key] for r in epochs], style if len(epochs) <= MARKED_EPOCHS else "-", color=colour,
                         ms=4, label=f"{key[:5]} (epoch)")
    _plot_metrics(ax_metric, ex, epochs, metrics, primary)
    _log_if_wide(ax_loss, [r["loss"] for r in steps] + [r[k] for r in epochs for k in losses])
    ax_loss.set_title("loss")
    if steps:
        ax_lr.plot(x, [r["lr"] for r in steps], color="#2ca02c")
        norms = [max(r["grad_norm"], 1e-12) for r in steps]
        ax_norm.plot(x, norms, color="#9467bd", alpha=0.3 if window > 1 else 0.8, lw=0.8, label="step")
        if window > 1:
            ax_norm.plot(x, _smooth(norms, window), color="#9467bd", lw=1.6, label=f"{window}-step mean")
        if clip:
            ax_norm.axhline(clip, color="#d62728", ls="--", lw=1, label=f"clip at {clip:g}")
        _log_if_wide(ax_norm, norms + ([clip] if clip else []))
    ax_lr.set_title("learning rate")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax_norm.set_title("gradient norm (before clipping)")
    for ax in axes.flat:
        ax.set_xlabel("step (log scale)" if log_steps else "step")
        if log_steps:
            ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"training curves: {title}" if title else "training curves")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)



def plot_confusion(report: dict, path, title: str = "") -> None:
    plt = pyplot()
    labels, m = report["labels"], np.asarray(report["confusion"], dtype=float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    size = max(5.0, 0.28 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8 if len(labels) > 20 else 10)
    ax.set_yticks(range(len(labels)), labels, fontsize=8 if len(labels) > 20 else 10)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(labels) <= 12:
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title or f"confusion (row-normalised), accuracy {report['accuracy']:.3f}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
