"""Resume state: where training stands (``TrainState``) and, on disk, everything an exact
resume needs — model, optimizer and scheduler state and the torch RNG — as safetensors plus
JSON (never pickle) in ``training_state/``.

Exact resume: the data order of epoch e is a function of (seed, e) alone, and this state is
saved at every epoch end and at any stop (budget, ``train.max_steps``, Ctrl-C). Resuming
replays the same epoch order, skips the batches already done and restores the RNG, so an
interrupted-and-resumed run ends with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import generation, resolve
from ..checkpoint import (atomic_save_tensors, atomic_write_json, load_state_tensors, load_weights_strict,
                          unpack_sparse)
from ..errors import ZooError
from ..runspec import RunSpec

STATE_DIR = "training_state"


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    batch: int = 0  # batches of the current epoch completed
    step: int = 0  # optimizer steps
    best: float | None = None  # best validation value of the selection metric
    best_epoch: float = 0
    best_report: dict = field(default_factory=dict)
    bad_epochs: int = 0
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)  # one row per epoch (metrics.jsonl)
    seen: int = 0  # this epoch so far: examples, summed loss, correct predictions
    loss_sum: float = 0.0
    correct: int = 0

    def start_epoch(self) -> None:
        self.batch, self.seen, self.loss_sum, self.correct = 0, 0, 0.0, 0


def split_optimizer_state(state: dict) -> tuple[dict, dict]:
    tensors, plain = {}, {"state": {}, "param_groups": state["param_groups"]}
    for pid, slots in state["state"].items():
        plain["state"][str(pid)] = {}
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{name}"] = value
            else:
                plain["state"][str(pid)][name] = value
    return tensors, plain


def join_optimizer_state(tensors: dict, plain: dict) -> dict:
    state: dict = {int(pid): dict(slots) for pid, slots in plain["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def save_state(out_dir: Path, trainer) -> None:
    """Write the trainer's resume state (tensors and the JSON that describes them), as one
    generation with whatever else is saved in the same ``atomic.generation`` block."""
    with generation(out_dir) as staging:
        _write_state(staging / STATE_DIR, trainer)


def _write_state(d: Path, trainer) -> None:
    opt_tensors, opt_plain = split_optimizer_state(trainer.optimizer.state_dict())
    tensors = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    tensors.update(opt_tensors)
    tensors.update({f"task.{k}": v for k, v in trainer.task.state_tensors().items()})
    tensors["rng.torch"] = torch.get_rng_state()
    atomic_save_tensors(d / "state.safetensors", tensors)
    atomic_write_json(d / "state.json", {
        "run": trainer.run.model_dump(mode="json"), "labels": trainer.labels,
        "embed_state": trainer.model.embed.state_json(), "trainer": dataclasses.asdict(trainer.state),
        "optimizer": opt_plain, "scheduler": trainer.scheduler.state_dict(), "command": trainer.command})


@contextmanager
def interrupts_deferred():
    """Ctrl-C during an epoch-end save takes effect once the save is complete, so the saved
    model and resume state always describe the same moment."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def load_state(out_dir: Path, trainer) -> None:
    """Restore what ``save_state`` wrote into a prepared trainer."""
    d = resolve(out_dir, STATE_DIR)
    saved = json.loads((d / "state.json").read_text())
    tensors = unpack_sparse(load_state_tensors(d / "state.safetensors"))
    trainer.model.embed.load_state_json(saved["embed_state"])
    load_weights_strict(trainer.model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
                        str(d / "state.safetensors"))
    trainer.optimizer.load_state_dict(join_optimizer_state(
        {k: v for k, v in tensors.items() if k.startswith("optim.")}, saved["optimizer"]))
    trainer.scheduler.load_state_dict(saved["scheduler"])
    trainer.task.load_state_tensors({k[5:]: v for k, v in tensors.items() if k.startswith("task.")})
    torch.set_rng_state(tensors["rng.torch"])
    known = {f.name for f in dataclasses.fields(TrainState)}
    trainer.state = TrainState(**{k: v for k, v in saved["trainer"].items() if k in known})


def run_from_state(out_dir: str | Path) -> tuple[RunSpec, str]:
    """The run spec and command of the interrupted run saved in ``out_dir``."""
    path = resolve(out_dir, STATE_DIR) / "state.json"
    if not Path(out_dir).is_dir():
        raise ZooError(f"--resume {out_dir}: no such folder; give the --out folder of an earlier zoo train run")
    if not path.is_file():
        saved_model = resolve(out_dir, "config.json").is_file()
        raise ZooError(f"--resume {out_dir}: " + (
            "it holds a saved model but no resume state (written by zoo build, or by an older zoo killed "
            "during its first save); train again with another --out" if saved_model else
            f"no resume state there (the run saved nothing yet); start it again with: zoo train ... --out {out_dir}"))
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return RunSpec.model_validate(saved["run"]), saved.get("command", "")
    except (ValueError, KeyError, TypeError) as e:
        raise ZooError(f"{path}: damaged resume state ({str(e).splitlines()[0]}); the model in {out_dir} still "
                       f"loads, but the run cannot continue — train again with another --out") from None

@dataclass
class TrainResult:
    out_dir: Path
    best: dict = field(default_factory=dict)
    test: dict | None = None
    epochs: int = 0
    steps: int = 0
    seconds: float = 0.0
    stopped: str = "completed"
    parameters: int = 0
    rank: int = 0
    metrics: tuple[str, ...] = ()  # the task's metric names, in display order
    primary_metric: str = "accuracy"
