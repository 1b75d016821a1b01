"""See inside training: gradient flow, training curves, TensorBoard, the recipe checks of
``zoo doctor``, conicity of token states and attention explanations.

Posts: "Flow Gradient, Please Flow, Darn It!" (per layer, the mean |grad| without biases as
a bar chart; a bar near zero for several iterations points at the layer that blocks the
flow); "Sharing Useful Hints How To Train Neural Nets" and "[MASK] is All You Need" (a
softmax classifier starts at -log(1/C); overfit a tiny batch before the long run; watch the
loss and gradient-norm curves); "Avoid Collapsed Token Representations" (conicity);
"The Fall of Attention?" (the seed attention shows which tokens drove a decision).
Paper: Mohankumar et al., "Towards Transparent and Explainable Attention Models",
ACL 2020 (2020.acl-main.387): conicity = mean_i cos(v_i, mean_j v_j).

The callbacks plug into ``zoo_core.training.Trainer`` (see ``callbacks_for``); this module
is imported by train, doctor and predict --explain-file only, never by ``zoo --help``.
"""
from __future__ import annotations

import html
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .errors import ZooError

GRAD_FLOW_JSONL = "grad_flow.jsonl"
GRAD_FLOW_PNG = "grad_flow.png"
STEPS_JSONL = "steps.jsonl"
CURVES_PNG = "curves.png"
TENSORBOARD_DIR = "tb"

# a layer's gradient is "near zero" at a step when its mean |grad| is below both
NEAR_ZERO_ABS = 1e-8          # ... this absolute floor, or
NEAR_ZERO_REL = 1e-4          # ... this share of the largest layer's mean |grad| at that step
NEAR_ZERO_STEPS = 20          # consecutive near-zero steps before the warning
CONICITY_WARN = 0.8           # token states this aligned with their mean have collapsed
CODEBOOK_WARN = 0.1           # fewer than 10% of the codes in use: codebook collapse


class GradientFlowWarning(UserWarning):
    """A layer whose gradient stayed near zero for many steps."""


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---- gradient flow ---------------------------------------------------------------------
def layer_name(param_name: str) -> str:
    return param_name[: -len(".weight")] if param_name.endswith(".weight") else param_name


def is_bias(param_name: str) -> bool:
    return "bias" in param_name.rsplit(".", 1)[-1]


def _abs_mean(grad: Tensor) -> Tensor:
    if grad.is_sparse:
        # a sparse-gradient embedding (embed.sparse=true): the mean over the rows the batch used.
        # Over the whole table (2**18 rows, a few thousand used) it would look like a blocked
        # layer to the near-zero check on every healthy step
        values = grad.coalesce().values()
        return values.abs().float().mean() if values.numel() else values.new_zeros((), dtype=torch.float32)
    return grad.detach().abs().float().mean()


def layer_grad_means(model: nn.Module) -> dict[str, float]:
    """Mean |grad| per trainable non-bias parameter, named like the post (``.weight``
    dropped). A parameter the backward pass did not reach counts as 0."""
    names, values = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad or is_bias(name):
            continue
        names.append(layer_name(name))
        values.append(_abs_mean(p.grad) if p.grad is not None else torch.zeros((), device=p.device))
    if not names:
        return {}
    return dict(zip(names, torch.stack([v.to(values[0].device) for v in values]).tolist()))


def _main(trainer) -> bool:
    """Under distributed training only rank 0 writes files (the gradients are all-reduced)."""
    return getattr(trainer, "is_main", True)


def _say(trainer, message: str, category=UserWarning) -> None:
    console = getattr(trainer, "console", None)
    if console is not None:
        console.print(f"warning: {message}", highlight=False, markup=False)
    else:
        warnings.warn(message, category, stacklevel=2)


class GradientFlow:
    """Per-layer mean |grad| (biases excluded) after every backward pass: one JSONL line per
    step, a bar chart at the end, and a warning naming any layer whose gradient stays near
    zero for ``patience`` consecutive steps."""

    def __init__(self, jsonl: str | Path | None = None, png: str | Path | None = None,
                 patience: int = NEAR_ZERO_STEPS):
        self.jsonl, self.png, self.patience = jsonl, png, patience
        self.steps = 0
        self.sums: dict[str, float] = {}
        self.maxima: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.zero_run: dict[str, int] = {}
        self.blocked: dict[str, int] = {}  # layer -> step at which its near-zero run began
        self.warnings: list[str] = []
        self._file = None

    # -- trainer callbacks ---------------------------------------------------------------
    def on_train_start(self, trainer) -> None:
        if self.jsonl is not None and _main(trainer):
            Path(self.jsonl).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.jsonl, "a", encoding="utf-8")

    def on_after_backward(self, trainer, step: int) -> None:
        if _main(trainer):
            self.record(step, layer_grad_means(trainer.model), trainer)

    def on_train_end(self, trainer, result) -> None:
        self.close()
        if self.png is not None and self.steps and _main(trainer):
            self.plot(self.png, title=f"gradient flow: {Path(trainer.out_dir).name}, {self.steps} steps")

    # -- the work ------------------------------------------------------------------------
    def record(self, step: int, values: dict[str, float], trainer=None) -> list[str]:
        """Add one step; returns the layers that just crossed the near-zero patience."""
        if self._file is not None:
            self._file.write(json.dumps({"step": step, "mean_abs_grad": values}) + "\n")
            self._file.flush()
        self.steps += 1
        floor = max(NEAR_ZERO_ABS, NEAR_ZERO_REL * max(values.values(), default=0.0))
        crossed = []
        for layer, v in values.items():
            self.sums[layer] = self.sums.get(layer, 0.0) + v
            self.maxima[layer] = max(self.maxima.get(layer, 0.0), v)
            self.last[layer] = v
            run = self.zero_run.get(layer, 0) + 1 if v <= floor else 0
            self.zero_run[layer] = run
            if run == self.patience and layer not in self.blocked:
                self.blocked[layer] = step - run + 1
                crossed.append(layer)
                message = (f"gradient flow: layer '{layer}' has had mean |grad| <= {floor:.1e} for {run} steps "
                           f"(since step {step - run + 1}); its weights barely change. Is it frozen or detached "
                           f"by mistake, behind a saturated gate, or scaled to zero?")
                self.warnings.append(message)
                if trainer is not None:  # None: the caller (zoo doctor) reports it itself
                    _say(trainer, message, GradientFlowWarning)
        return crossed

    def near_zero_layers(self) -> list[str]:
        """Layers flagged so far, plus (for short runs, at least 3 steps) layers that were
        near zero on every recorded step."""
        whole_run = [k for k, run in self.zero_run.items() if self.steps >= 3 and run >= self.steps]
        return list(self.blocked) + [k for k in whole_run if k not in self.blocked]

    def means(self) -> dict[str, float]:
        return {k: v / max(1, self.steps) for k, v in self.sums.items()}

    def plot(self, path: str | Path, title: str = "gradient flow") -> Path:
        return plot_grad_flow(self.means(), path, maxima=self.maxima, blocked=set(self.near_zero_layers()), title=title,
                              steps=self.steps)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def plot_grad_flow(means: dict[str, float], path: str | Path, *, maxima: dict[str, float] | None = None,
                   blocked: set[str] = frozenset(), title: str = "gradient flow", steps: int | None = None) -> Path:
    """Horizontal bars (one per layer, network order top to bottom) of the mean |grad| on a
    log axis, the largest step as a tick; layers without gradient drawn in red at the floor."""
    plt = _plt()
    import numpy as np

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


# ---- training curves -------------------------------------------------------------------
class Curves:
    """Per-step loss, learning rate and gradient norm (before clipping) in steps.jsonl, and a
    2x2 PNG with the epoch rows (train/valid loss and accuracy) at the end of training and at
    most once a minute at an epoch end, so a long or interrupted run has a fresh picture."""

    def __init__(self, out_dir: str | Path, every_s: float = 60.0):
        self.out_dir = Path(out_dir)
        self.every_s = every_s
        self.rows: list[dict] = []
        self._norm, self._lr = 0.0, 0.0
        self._last_plot = time.perf_counter()
        self._file = None
        self.active = True

    def on_train_start(self, trainer) -> None:
        self.active = _main(trainer)
        if not self.active:
            return
        path = self.out_dir / STEPS_JSONL
        done = trainer.state["step"]
        if path.is_file():  # resumed: keep the steps before the saved state, drop replayed ones
            self.rows = [r for r in map(json.loads, path.read_text().splitlines()) if r["step"] <= done]
            path.write_text("".join(json.dumps(r) + "\n" for r in self.rows))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")

    def on_after_backward(self, trainer, step: int) -> None:
        if self.active:  # the learning rate this step uses (the scheduler moves on after it)
            self._norm, self._lr = trainer.grad_norm(), trainer.optimizer.param_groups[0]["lr"]

    def on_step_end(self, trainer, step: int, loss: float) -> None:
        if not self.active:
            return
        row = {"step": step, "loss": loss, "lr": self._lr, "grad_norm": self._norm}
        self.rows.append(row)
        if self._file is not None:
            self._file.write(json.dumps(row) + "\n")

    def on_epoch_end(self, trainer, row) -> None:
        if self._file is not None:
            self._file.flush()
        if self.active and time.perf_counter() - self._last_plot > self.every_s:
            self.plot(trainer)

    def on_train_end(self, trainer, result) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.active and self.rows:
            self.plot(trainer)

    def plot(self, trainer) -> Path:
        self._last_plot = time.perf_counter()
        return plot_curves(self.rows, trainer.state["history"], self.out_dir / CURVES_PNG,
                           clip=trainer.run.train.clip, title=self.out_dir.name)


def _smooth(values, window: int):
    import numpy as np

    v = np.asarray(values, dtype=float)
    if window <= 1 or len(v) < 3:
        return v
    kernel = np.ones(window)
    return np.convolve(v, kernel, "same") / np.convolve(np.ones_like(v), kernel, "same")


def _log_if_wide(ax, values) -> None:
    """Log scale only when the values span more than 20x (a long run's loss); plain
    numbers on the axis either way."""
    from matplotlib.ticker import ScalarFormatter

    positive = [v for v in values if v and v > 0 and math.isfinite(v)]
    if positive and max(positive) / min(positive) > 20:
        ax.set_yscale("log")
    else:
        ax.yaxis.set_major_formatter(ScalarFormatter())


def plot_curves(steps: list[dict], epochs: list[dict], path: str | Path, clip: float | None = None,
                title: str = "") -> Path:
    plt = _plt()

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    (ax_loss, ax_acc), (ax_lr, ax_norm) = axes
    x = [r["step"] for r in steps]
    window = max(1, len(steps) // 50)
    if steps:
        ax_loss.plot(x, [r["loss"] for r in steps], color="#1f77b4", alpha=0.25 if window > 1 else 0.6, lw=0.8,
                     label="train (step)")
        if window > 1:
            ax_loss.plot(x, _smooth([r["loss"] for r in steps], window), color="#1f77b4", lw=1.6,
                         label=f"train ({window}-step mean)")
    ex = [r["step"] for r in epochs]
    if epochs:
        ax_loss.plot(ex, [r["train_loss"] for r in epochs], "o-", color="#1f77b4", ms=4, label="train (epoch)")
        ax_loss.plot(ex, [r["valid_loss"] for r in epochs], "s-", color="#ff7f0e", ms=4, label="valid (epoch)")
        ax_acc.plot(ex, [r["train_accuracy"] for r in epochs], "o-", color="#1f77b4", label="train")
        ax_acc.plot(ex, [r["valid_accuracy"] for r in epochs], "s-", color="#ff7f0e", label="valid")
        best = max(range(len(epochs)), key=lambda i: epochs[i]["valid_accuracy"])
        ax_acc.annotate(f"best {epochs[best]['valid_accuracy']:.3f}", (ex[best], epochs[best]["valid_accuracy"]),
                        textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8, color="#ff7f0e")
        ax_acc.set_ylim(0, 1.02)
    else:
        ax_acc.text(0.5, 0.5, "no epoch finished yet", ha="center", va="center", transform=ax_acc.transAxes)
    _log_if_wide(ax_loss, [r["loss"] for r in steps] + [r[k] for r in epochs for k in ("train_loss", "valid_loss")])
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
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
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"training curves: {title}" if title else "training curves")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


# ---- TensorBoard -----------------------------------------------------------------------
def tensorboard_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLogger:
    """Step loss, learning rate and gradient norm, and the epoch metrics, as TensorBoard
    scalars under ``OUT/tb`` (``tensorboard --logdir OUT/tb``)."""

    def __init__(self, log_dir: str | Path):
        if not tensorboard_available():
            raise ZooError("logger=tensorboard: the tensorboard package is not installed; "
                           "pip install tensorboard (or use logger=none)")
        self.log_dir = Path(log_dir)
        self.writer = None
        self._norm = None

    def on_train_start(self, trainer) -> None:
        if not _main(trainer):
            return
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.log_dir), purge_step=trainer.state["step"] or None)

    def on_after_backward(self, trainer, step: int) -> None:
        if self.writer is not None:
            self._norm, self._lr = trainer.grad_norm(), trainer.optimizer.param_groups[0]["lr"]

    def on_step_end(self, trainer, step: int, loss: float) -> None:
        if self.writer is None:
            return
        self.writer.add_scalar("train/loss", loss, step)
        self.writer.add_scalar("train/lr", self._lr, step)
        if self._norm is not None:
            self.writer.add_scalar("train/grad_norm", self._norm, step)

    def on_epoch_end(self, trainer, row) -> None:
        if self.writer is None:
            return
        for key, value in row.items():
            if key not in ("epoch", "step") and isinstance(value, (int, float)):
                group = "valid" if key.startswith("valid_") else "epoch"
                self.writer.add_scalar(f"{group}/{key.removeprefix('valid_')}", value, row["step"])
        self.writer.flush()

    def on_train_end(self, trainer, result) -> None:
        if self.writer is not None:
            self.writer.close()


def callbacks_for(run, out_dir: str | Path) -> list:
    """The diagnostics a run spec asks for: train.plots, train.grad_flow, logger."""
    out_dir = Path(out_dir)
    callbacks: list = []
    if run.logger == "tensorboard":
        callbacks.append(TensorBoardLogger(out_dir / TENSORBOARD_DIR))
    if run.train.plots:
        callbacks.append(Curves(out_dir))
    if run.train.grad_flow:
        callbacks.append(GradientFlow(out_dir / GRAD_FLOW_JSONL, out_dir / GRAD_FLOW_PNG))
    return callbacks


# ---- conicity --------------------------------------------------------------------------
def conicity_per_sequence(states: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean cosine of each (unmasked) state with the mean state of its sequence, per
    sequence: (B, T, D) [+ (B, T) mask] -> (B,). 1: all states point one way; a set of T
    orthogonal states gives 1/sqrt(T)."""
    if states.dim() == 2:
        states = states.unsqueeze(0)
        mask = None if mask is None else mask.unsqueeze(0)
    states = states.detach().float()
    if mask is None:
        mask = torch.ones(states.shape[:2], dtype=torch.bool, device=states.device)
    keep = mask.bool().unsqueeze(-1).float()
    count = keep.sum(1).clamp_min(1)
    mean = (states * keep).sum(1) / count
    cos = F.cosine_similarity(states, mean.unsqueeze(1).expand_as(states), dim=-1, eps=1e-8)
    return (cos * keep.squeeze(-1)).sum(1) / count.squeeze(-1)


def conicity(states: Tensor, mask: Tensor | None = None) -> float:
    """Conicity (Mohankumar et al., ACL 2020) averaged over sequences with >= 2 tokens;
    NaN when every sequence has a single token."""
    if states.dim() == 2:
        return float(conicity_per_sequence(states, mask))
    per = conicity_per_sequence(states, mask)
    lengths = (mask.bool().sum(1) if mask is not None else torch.full((states.shape[0],), states.shape[1])).to(per.device)
    multi = lengths >= 2
    return float(per[multi].mean()) if multi.any() else float("nan")


# ---- the recipe checks (zoo doctor) ---------------------------------------------------
@dataclass
class Check:
    name: str
    status: str  # pass, warn, fail, n/a
    value: str
    advice: str = ""
    data: dict = field(default_factory=dict)


def _expected_initial_loss(model, num_classes: int) -> float:
    """-log(1/C); with label smoothing the uniform prediction still scores log C."""
    return math.log(num_classes)


def _loss_floor(model, num_classes: int) -> float:
    """The lowest reachable loss: 0, or the entropy of the smoothed target."""
    eps = float(getattr(model.loss, "label_smoothing", 0.0) or 0.0)
    if eps <= 0:
        return 0.0
    hit, miss = 1 - eps + eps / num_classes, eps / num_classes
    return -(hit * math.log(hit) + (num_classes - 1) * miss * math.log(miss))


def codebook_usages(model: nn.Module) -> dict[str, object]:
    """``codebook_usage()`` of every submodule that has one (a quantising mixer): a share of
    codes in use in [0, 1], or a dict with ``usage`` (and e.g. ``used``, ``size``)."""
    found = {}
    for name, module in model.named_modules():
        fn = getattr(module, "codebook_usage", None)
        if callable(fn):
            found[name or "model"] = fn()
    return found


def _usage_share(value) -> float | None:
    if isinstance(value, dict):
        if "usage" in value:
            return float(value["usage"])
        if "used" in value and value.get("size"):
            return float(value["used"]) / float(value["size"])
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return float(value[0]) / float(value[1]) if value[1] else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def run_doctor(run, out_dir: str | Path, *, splits=None, overfit_examples: int = 16, max_steps: int = 300,
               probe_examples: int = 256, max_seconds: float = 120.0, log=None) -> list[Check]:
    """The recipe checks on a fresh model: initial loss, gradient reaching every parameter,
    conicity, codebook usage, then overfitting one small batch (with the gradient flow
    recorded on every step). Writes grad_flow.png and doctor.json to ``out_dir``."""
    import random

    from .training import Trainer, clip_gradients

    run = run.model_copy(deep=True)
    run.logger = "none"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(run, out_dir, progress=False)
    trainer._prepare(splits)
    model, task, device = trainer.model, trainer.task, trainer.device
    labels = trainer.labels
    n_classes = len(labels)
    rng = random.Random(run.seed)
    order = list(range(len(trainer.train_tokens)))
    rng.shuffle(order)
    probe = order[:probe_examples]
    batch = _spread_over_labels(order, trainer.train_y, overfit_examples)

    def inputs_for(idx):
        enc = model.encode([trainer.train_tokens[i] for i in idx])
        return ({k: v.to(device) for k, v in enc.items()},
                torch.tensor([trainer.train_y[i] for i in idx], device=device))

    checks: list[Check] = []
    probe_x, probe_y = inputs_for(probe)

    # 1. initial loss against -log(1/C)
    model.eval()
    with torch.no_grad():
        out = model(probe_x)
        init_loss = float(task.loss(model, out, probe_y, probe)) if out["logits"] is not None else None
        init_conicity = conicity(out["states"], out["mask"])
    expected = _expected_initial_loss(model, n_classes)
    if init_loss is None:
        checks.append(Check("initial loss", "n/a", "the loss scores no class logits", ""))
    else:
        ratio = init_loss / expected
        status = "pass" if abs(ratio - 1) <= 0.2 else ("warn" if 0.5 <= ratio <= 2 else "fail")
        advice = "" if status == "pass" else (
            "the fresh model is already confident: shrink the output head's initial weights or the pooled "
            "vector's scale (a softmax classifier should start near uniform)" if ratio > 1 else
            "lower than chance before training: check that labels and inputs are not leaking or duplicated")
        checks.append(Check("initial loss", status, f"{init_loss:.3f} (expected -log(1/{n_classes}) = {expected:.3f})",
                            advice, {"loss": init_loss, "expected": expected}))

    # 2. gradient reaches every trainable parameter
    model.train()
    model.zero_grad(set_to_none=True)
    out = model(probe_x)
    task.loss(model, out, probe_y, probe).backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    frozen = sum(1 for p in model.parameters() if not p.requires_grad)
    dead = [n for n, p in trainable if p.grad is None or not bool(_abs_mean(p.grad) > 0)]
    note = f"; {frozen} frozen" if frozen else ""
    if dead:
        checks.append(Check("gradient reaches every parameter", "fail",
                            f"{len(dead)} of {len(trainable)} get none: {', '.join(dead[:4])}"
                            + (" ..." if len(dead) > 4 else ""),
                            "a parameter without gradient is unused in forward, detached (.detach(), .data, "
                            "no_grad) or multiplied by zero; if it is meant to be fixed, freeze it (COMPONENT.freeze=true)",
                            {"dead": dead}))
    else:
        checks.append(Check("gradient reaches every parameter", "pass", f"{len(trainable)} of {len(trainable)}{note}",
                            "", {"trainable": len(trainable), "frozen": frozen}))
    model.zero_grad(set_to_none=True)

    # 3. overfit one small batch, recording the gradient flow
    flow = GradientFlow(out_dir / GRAD_FLOW_JSONL, patience=max(5, min(NEAR_ZERO_STEPS, max_steps // 5)))
    (out_dir / GRAD_FLOW_JSONL).unlink(missing_ok=True)
    flow.on_train_start(trainer)
    from .compose import build_optimizer

    optimizer = build_optimizer(model, run.model.optim, lr=run.train.lr)
    bx, by = inputs_for(batch)
    model.eval()  # dropout off: memorising a batch is about capacity and gradients, not regularisation
    floor = _loss_floor(model, n_classes)
    target_loss = floor + 0.05
    losses: list[float] = []
    start = time.perf_counter()
    for step in range(max_steps):
        out = model(bx)
        loss = task.loss(model, out, by, batch)
        if not torch.isfinite(loss):
            losses.append(float("inf"))
            break
        losses.append(loss.item())
        if losses[-1] <= target_loss or time.perf_counter() - start > max_seconds:
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        flow.record(step, layer_grad_means(model))
        if run.train.clip:
            clip_gradients(model, run.train.clip)  # also sparse gradients (embed.sparse=true)
        optimizer.step()
    flow.close()
    seconds = time.perf_counter() - start
    first, last = losses[0], losses[-1]
    lr = optimizer.param_groups[0]["lr"]
    value = f"{first:.3f} -> {last:.4f} in {len(losses) - 1} steps on {len(batch)} examples"
    if last <= target_loss:
        checks.append(Check("overfit one batch", "pass", value, "", {"losses": losses}))
    elif math.isfinite(last) and last < 0.25 * first:
        checks.append(Check("overfit one batch", "warn", value + f" (target {target_loss:.2f})",
                            f"learning but slowly: allow more steps (--steps) or raise train.lr (now {lr:.2g})",
                            {"losses": losses}))
    else:
        checks.append(Check("overfit one batch", "fail", value + f" (target {target_loss:.2f})",
                            "cannot memorise a handful of examples: check labels and the loss, raise train.lr "
                            f"(now {lr:.2g}) or lower it if the loss diverged, see {GRAD_FLOW_PNG} for a blocked layer",
                            {"losses": losses}))

    # 4. gradient flow over those steps
    names = flow.near_zero_layers()
    png = flow.plot(out_dir / GRAD_FLOW_PNG, title=f"gradient flow: zoo doctor, overfitting {len(batch)} examples") \
        if flow.steps else None
    if not flow.steps:
        checks.append(Check("gradient flow per layer", "n/a", "no optimisation step was taken", ""))
    elif names:
        checks.append(Check("gradient flow per layer", "warn",
                            f"near zero for {min(flow.patience, flow.steps)}+ steps: {', '.join(names[:4])}"
                            + (" ..." if len(names) > 4 else ""),
                            f"see {GRAD_FLOW_PNG}: a layer whose bar stays near zero blocks the flow; look for "
                            "saturated gates, a missing residual/normalisation, or weights scaled to zero",
                            {"blocked": names}))
    else:
        means = flow.means()
        lo = min(means, key=means.get)
        checks.append(Check("gradient flow per layer", "pass",
                            f"{len(means)} layers; smallest mean |grad| {means[lo]:.1e} ({lo})", "",
                            {"means": means}))

    # 5. conicity of the token states, fresh and after memorising the batch
    model.eval()
    with torch.no_grad():
        out = model(probe_x)
        after_conicity = conicity(out["states"], out["mask"])
        usages = codebook_usages(model)
    if math.isnan(init_conicity):
        checks.append(Check("conicity of token states", "n/a", "every sequence has one token", ""))
    else:
        worst = max(init_conicity, after_conicity)
        status = "warn" if worst > CONICITY_WARN else "pass"
        checks.append(Check("conicity of token states", status,
                            f"{init_conicity:.3f} fresh, {after_conicity:.3f} after overfitting (warn > {CONICITY_WARN})",
                            "" if status == "pass" else
                            "token states point one way (collapsed): attention over them turns uniform; try a "
                            "different mixer, a residual, or a conicity/contrastive penalty",
                            {"fresh": init_conicity, "after_overfit": after_conicity}))

    # 6. codebook usage of a quantiser
    if not usages:
        checks.append(Check("codebook usage", "n/a", "no component exposes codebook_usage()", ""))
    else:
        shares = {k: _usage_share(v) for k, v in usages.items()}
        low = [k for k, s in shares.items() if s is not None and s < CODEBOOK_WARN]
        text = ", ".join(f"{k} {s:.0%}" if s is not None else f"{k} {usages[k]}" for k, s in shares.items())
        checks.append(Check("codebook usage", "warn" if low else "pass", text,
                            "" if not low else "few codes in use (codebook collapse): re-initialise dead codes "
                            "from batch states, lower the commitment weight, or use fewer codes",
                            {"usage": {k: usages[k] for k in usages}}))

    report = {"checks": [asdict(c) for c in checks], "grad_flow_png": str(png) if png else None,
              "overfit_seconds": seconds, "labels": labels}
    (out_dir / "doctor.json").write_text(json.dumps(report, indent=1, default=str))
    return checks


def _spread_over_labels(order: list[int], labels: list[int], n: int) -> list[int]:
    """Up to n examples, taking the labels in turn so the batch is not one class."""
    by_label: dict[int, list[int]] = {}
    for i in order:
        by_label.setdefault(labels[i], []).append(i)
    picked, queues = [], list(by_label.values())
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


# ---- explanations ----------------------------------------------------------------------
def _weight_rgb(w: float, peak: float) -> tuple[int, int, int]:
    """White (no weight) to a strong orange (the peak token)."""
    t = 0.0 if peak <= 0 else max(0.0, min(1.0, w / peak))
    return 255, int(255 - 140 * t), int(255 - 235 * t)


def _weight_colour(w: float, peak: float) -> str:
    return "rgb({},{},{})".format(*_weight_rgb(w, peak))


def explanation_html(rows: list[dict], title: str = "zoo predict --explain") -> str:
    """One block per text: the prediction, then each token on a background as strong as its
    attention weight, with the weight written under it."""
    parts = [
        "<!doctype html>", "<html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        ".ex{margin:0 0 1.6em 0}.pred{font-weight:600;margin-bottom:.4em}.top{color:#555;font-weight:400}"
        ".tok{display:inline-block;text-align:center;margin:2px;padding:3px 6px;border-radius:4px;"
        "border:1px solid #ddd;font-family:ui-monospace,monospace}.tok small{display:block;color:#333;"
        "font-size:.75em}</style></head><body>",
        f"<h2>{html.escape(title)}</h2>",
        "<p>Background strength: the seed attention weight of each token (the weights of one text sum to 1).</p>"]
    for row in rows:
        top = ", ".join(f"{html.escape(str(l))} {p:.3f}" for l, p in row.get("top", [])[1:])
        top = f" <span class='top'>(then {top})</span>" if top else ""
        parts.append(f"<div class='ex'><div class='pred'>{html.escape(row['text'])} &rarr; "
                     f"{html.escape(str(row['label']))} {row['score']:.3f}{top}</div>")
        weights = row.get("weights")
        if weights is None:
            parts.append("<div>(this model's pooler returns no attention weights)</div></div>")
            continue
        peak = max(weights) if weights else 0.0
        for token, w in zip(row["tokens"], weights):
            parts.append(f"<span class='tok' style='background:{_weight_colour(w, peak)}' "
                         f"title='{html.escape(token, quote=True)}: {w:.4f}'>{html.escape(token)}"
                         f"<small>{w:.3f}</small></span>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def plot_explanations(rows: list[dict], path: str | Path, max_texts: int = 12, max_tokens: int = 30) -> Path:
    """One horizontal bar chart per text: its tokens top to bottom in reading order, the bar
    the attention weight; the title carries the prediction."""
    plt = _plt()

    shown = [r for r in rows if r.get("weights")][:max_texts]
    if not shown:
        raise ZooError("--explain-file: this model's pooler returns no attention weights; nothing to draw")
    heights = [max(1.2, 0.22 * min(len(r["tokens"]), max_tokens) + 0.9) for r in shown]
    longest = max(len(t) for r in shown for t in r["tokens"][:max_tokens])
    fig, axes = plt.subplots(len(shown), 1, figsize=(7 + 0.06 * longest, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, row in zip(axes[:, 0], shown):
        keep = sorted(sorted(range(len(row["weights"])), key=lambda i: -row["weights"][i])[:max_tokens])
        tokens, weights = [row["tokens"][i] for i in keep], [row["weights"][i] for i in keep]
        peak = max(weights) or 1.0
        ax.barh(range(len(tokens)), weights, color=[tuple(c / 255 for c in _weight_rgb(w, peak)) for w in weights], edgecolor="#c45a00")
        ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, min(1.0, peak * 1.25))
        for i, w in enumerate(weights):
            ax.text(w, i, f" {w:.2f}", va="center", fontsize=7)
        cut = f" (the {max_tokens} largest of {len(row['tokens'])} tokens)" if len(row["tokens"]) > max_tokens else ""
        text = row["text"] if len(row["text"]) <= 60 else row["text"][:57] + "..."
        ax.set_title(f"{text!r} -> {row['label']} ({row['score']:.2f}){cut}", fontsize=9, loc="left")
        ax.grid(True, axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("seed attention weight")
    if len(rows) > len(shown):
        fig.text(0.01, 0.002, f"{len(rows) - len(shown)} more text(s) not drawn; use an .html file for all",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


EXPLAIN_SUFFIXES = (".html", ".htm", ".png")


def check_explain_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in EXPLAIN_SUFFIXES:
        raise ZooError(f"--explain-file {path}: write an .html or a .png file, e.g. --explain-file why.html")
    return path


def write_explanations(rows: list[dict], path: str | Path) -> Path:
    path = check_explain_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".png":
        return plot_explanations(rows, path)
    path.write_text(explanation_html(rows), encoding="utf-8")
    return path
