"""Tasks: what a run learns and how it is scored. A task is registered by a plugin
(``zoo_register_tasks``; zoo's own classification, few_shot and retrieval too) and named by
the run (``task=NAME`` or ``task=NAME:KEY=VALUE,...``); the trainer asks it for batches, the
loss of a batch and the evaluation metrics, so new tasks plug in without a new loop.

A task owns its metrics: ``metrics`` names what ``evaluate`` reports (every display, curve,
early-stopping rule and model card iterates them), ``primary_metric`` (higher is better)
chooses the best checkpoint. Every task adds the ``aux_loss`` that modules store during
the forward pass (e.g. the vq mixer's commitment loss) to its loss.

A task is also one of the trainer's callbacks (any of ``on_train_start(trainer)``,
``on_step_end(trainer, step, loss)``, ... that it defines is called): e.g. self_distill's
EMA teacher is made at the start and updated after each optimizer step.
"""
from __future__ import annotations

import inspect
import math
import random
from collections import defaultdict
from dataclasses import dataclass

from . import grammar
from .errors import ZooError
from .registry import Registry, get_registry

METRIC_TITLES = {"macro_f1": "macro-F1", "ponder_steps": "ponder steps (mean halting step)"}


def metric_title(name: str) -> str:
    return METRIC_TITLES.get(name, name)


def auxiliary_loss(model):
    """The sum of every submodule's ``aux_loss`` tensor from the last forward pass, or None."""
    import torch

    terms = [m.aux_loss for m in model.modules() if isinstance(getattr(m, "aux_loss", None), torch.Tensor)]
    return sum(terms) if terms else None


@dataclass
class TrainingSet:
    """What a task sees of the training data when it makes batches."""

    labels: list[int]  # label id per example
    lengths: list[int]  # tokens per example
    classes: list[str]  # label names, by id
    batch_size: int
    seed: int

    @property
    def steps(self) -> int:
        """Batches per epoch, as many as the trainer's LR schedule counts."""
        return max(1, math.ceil(len(self.labels) / self.batch_size))


class Task:
    """The base of every task. Subclasses set the class attributes and implement
    ``batches`` and ``evaluate``; options come as keyword arguments."""

    name = "task"
    pipeline_tag = "text-classification"
    primary_metric = "accuracy"
    metrics: tuple[str, ...] = ("accuracy",)
    needs_labels_known = True  # evaluation labels must be training labels (classification)
    loss_is_class_nll = True  # zoo doctor: a fresh model's loss starts at -log(1/C) and can reach ~0

    def batches(self, data: TrainingSet, epoch: int) -> list[list[int]]:  # pragma: no cover - abstract
        """Index lists over the training examples for ``epoch``."""
        raise NotImplementedError

    def forward(self, model, forward, inputs):
        """The training forward pass of a batch: ``forward(inputs)`` (the trainer's model, maybe
        wrapped for DDP or compilation; ``model`` is the ZooModel itself). A task that trains on
        several views of each input (``self_distill``) overrides it; the outputs go to ``loss``."""
        return forward(inputs)

    def state_tensors(self) -> dict:
        """Tensors of the task's own training state (``self_distill``: its EMA teacher), written
        with the resume state so that ``--resume`` continues the run exactly."""
        return {}

    def load_state_tensors(self, tensors: dict) -> None:
        """Take back what ``state_tensors`` returned; called before ``on_train_start``."""

    def loss(self, model, outputs, target, idx):
        loss = model.objective(outputs, target) if hasattr(model, "objective") else model.loss(outputs, target)
        aux = auxiliary_loss(model)
        return loss if aux is None else loss + aux

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's batches: a function of (seed, epoch) alone, so a resumed run
    replays the same order."""
    return seed * 1_000_003 + epoch


def epoch_rng(seed: int, epoch: int) -> random.Random:
    """``epoch_seed``'s Python random source (for tasks that shuffle lists)."""
    return random.Random(epoch_seed(seed, epoch))


def by_label(label_ids) -> dict[int, list[int]]:
    groups = defaultdict(list)
    for i, y in enumerate(label_ids):
        groups[int(y)].append(i)
    return groups


def get_task(text: str, registry: Registry | None = None) -> Task:
    """The task a run names: ``classification`` or ``few_shot:ways=5,shots=1``."""
    name, options, problems = grammar.parse_options(text, "task")
    if problems:
        raise ZooError(*problems)
    cls = (registry or get_registry()).task(name).load()
    allowed = list(inspect.signature(cls).parameters)
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise ZooError(f"task={text}: unknown option {unknown[0]!r} for {name}; options: {', '.join(allowed) or 'none'}")
    bad = [f"{k}={grammar.format_value(v)}" for k, v in options.items() if isinstance(v, (str, list)) or v is None]
    if bad:
        raise ZooError(f"task={text}: {bad[0]} is not a number; task options are numbers, "
                       f"e.g. task=few_shot:ways=5,shots=1")
    return cls(**options)
