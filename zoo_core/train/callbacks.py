"""Training callbacks that show what happens inside a run: the gradient flow per layer, the
training curves and TensorBoard scalars. ``callbacks_for(run, out_dir)`` picks the ones a run
spec asks for (train.grad_flow, train.plots, logger=tensorboard).

Posts: "Flow Gradient, Please Flow, Darn It!" (per layer, the mean |grad| without biases; a
bar near zero for several iterations points at the layer that blocks the flow); "Sharing
Useful Hints How To Train Neural Nets" (watch the loss and gradient-norm curves).

A callback is a plain object with any of these methods, each called with the trainer first:
``on_train_start(trainer)``, ``on_after_backward(trainer, step)`` (gradients are present),
``on_step_end(trainer, step, loss)``, ``on_epoch_end(trainer, row)``,
``on_train_end(trainer, result)``.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ZooError
from ..plots import plot_curves, plot_grad_flow

GRAD_FLOW_JSONL = "grad_flow.jsonl"
GRAD_FLOW_PNG = "grad_flow.png"
STEPS_JSONL = "steps.jsonl"
CURVES_PNG = "curves.png"
TENSORBOARD_DIR = "tb"

# a layer's gradient is "near zero" at a step when its mean |grad| is below both
NEAR_ZERO_ABS = 1e-8          # ... this absolute floor, or
NEAR_ZERO_REL = 1e-4          # ... this share of the largest layer's mean |grad| at that step
NEAR_ZERO_STEPS = 20          # consecutive near-zero steps before the warning


class GradientFlowWarning(UserWarning):
    """A layer whose gradient stayed near zero for many steps."""



# ---- gradient flow ---------------------------------------------------------------------
def layer_name(param_name: str) -> str:
    return param_name[: -len(".weight")] if param_name.endswith(".weight") else param_name


def is_bias(param_name: str) -> bool:
    return "bias" in param_name.rsplit(".", 1)[-1]


def abs_mean(grad: Tensor) -> Tensor:
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
        values.append(abs_mean(p.grad) if p.grad is not None else torch.zeros((), device=p.device))
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



# ---- training curves -------------------------------------------------------------------
class Curves:
    """Per-step loss, learning rate and gradient norm (before clipping) in steps.jsonl, and a
    2x2 PNG with the epoch rows (train/valid loss and the task's own validation metrics) at the end of training and at
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
        done = trainer.state.step
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
        return plot_curves(self.rows, trainer.state.history, self.out_dir / CURVES_PNG,
                           clip=trainer.run.train.clip, title=self.out_dir.name,
                           metrics=tuple(trainer.task.metrics), primary=trainer.metric,
                           log_steps=trainer.run.train.plots_log_steps)



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

        self.writer = SummaryWriter(str(self.log_dir), purge_step=trainer.state.step or None)

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

