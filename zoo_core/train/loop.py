"""The training loop: seeded batches from the task, warm-up + decay, clipping, early stopping
on the task's primary metric, the best checkpoint kept, a wall-clock budget, exact resume
(state.py), data parallel under torchrun (distributed.py), callbacks (callbacks.py).

Callbacks are plain objects with any of these methods, each called with the trainer first:
on_train_start(trainer), on_after_backward(trainer, step) (gradients are present),
on_step_end(trainer, step, loss), on_epoch_end(trainer, row), on_train_end(trainer, result).
"""
from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..atomic import generation
from ..batches import TokenFeatures, featurize_texts, uses_ids
from ..data import DatasetSplits, load_splits
from ..errors import ZooError
from ..model import ZooModel, build_model, build_optimizer, count_parameters
from ..runspec import RunSpec
from ..tasks import TrainingSet, get_task, metric_title
from ..tokenize import Tokenizer
from .device import CompiledOrEager, resolve_device
from .distributed import init_distributed, reduce_sparse_grads, wrap_ddp
from .gradients import clip_gradients, coalesce_sparse_grads, sparse_gradient_params, total_grad_norm
from .prefetch import Prefetcher
from .saving import Checkpointing
from .progress import epoch_bar, progress_bar
from .state import TrainResult, TrainState, interrupts_deferred, load_state, run_from_state

STOPS_TO_RESUME = ("max_steps", "max_minutes", "interrupted")


def lr_factor(step: int, total: int, warmup: float, schedule: str) -> float:
    """Linear warm-up over a ``warmup`` share of the steps, then cosine, linear or constant."""
    warm = max(1, int(total * warmup)) if warmup > 0 else 0
    if step < warm:
        return (step + 1) / warm
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1.0 - progress




class Trainer(Checkpointing):
    run_from_state = staticmethod(run_from_state)

    def __init__(self, run: RunSpec, out_dir: str | Path, *, console=None, progress: bool = True,
                 max_steps: int | None = None, command: str = "", callbacks=()):
        from .callbacks import callbacks_for  # train.plots, train.grad_flow, logger=tensorboard

        self.run, self.out_dir = run, Path(out_dir)
        self.task = get_task(run.task)
        self.metric = run.train.metric or self.task.primary_metric
        self.callbacks = [self.task, *callbacks, *callbacks_for(run, self.out_dir)]  # a task may hook in too
        self.console, self.show_progress = console, progress
        self.max_steps, self.command = max_steps, command
        self.state = TrainState()
        self._best, self._best_written, self._saved_at = None, True, time.perf_counter()
        self._grad_norm: float | None = None
        self.last_grad_norm = 0.0

    # -- setup ---------------------------------------------------------------------------
    def prepare(self, splits: DatasetSplits | None = None) -> None:
        """Data, tokens, model, optimizer and schedule: everything before the first step."""
        run = self.run
        self.ranks, self.device = init_distributed(resolve_device(run.device))
        if self.device.type == "cpu":
            torch.set_num_threads(run.threads)
        if splits is None:
            self._log(f"reading {run.data.source}" + (" (and data.valid/test)" if run.data.valid or run.data.test else ""))
        self.splits = splits or load_splits(run.data, seed=run.seed)
        self.labels = self._labels()
        index = {label: i for i, label in enumerate(self.labels)}
        self.tokenizer = Tokenizer(run.tokenizer)
        run.model.num_classes = len(self.labels)
        self._log(f"building the model ({len(self.labels)} classes) and fitting the embedder's vocabulary")
        self.model: ZooModel = build_model(run, labels=self.labels, seed=run.seed)
        self._tokens = None
        if not uses_ids(self.model):  # token strings: the embedder may fit on them (a vocabulary)
            self.model.embed.fit(self.train_tokens)
        self.train_features = self._features(self.splits.train.texts, "train")
        self.valid_features = self._features(self.splits.valid.texts, "valid")
        self.train_y = [index[label] for label in self.splits.train.labels]
        self._train_targets = torch.tensor(self.train_y, dtype=torch.long)  # a batch's: one gather
        self.valid_y = [index[label] for label in self.splits.valid.labels]
        self.training_set = TrainingSet(self.train_y, self.train_features.lengths.tolist(), self.labels,
                                        run.train.batch_size, run.seed)
        self.model.to(self.device)
        self._sparse = sparse_gradient_params(self.model)  # coalesced once a step; all-reduced here under DDP
        self.forward_model = self._wrap(self.model)
        if any(p.requires_grad for p in self.model.parameters()):
            self.optimizer = build_optimizer(self.model, run.model.optim, lr=run.train.lr)
        else:  # gradient-free (e.g. recipe=hdc): a placeholder keeps the schedule and resume state uniform
            self.optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
        self.total_steps = self.training_set.steps * run.train.epochs
        t = run.train
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, self.total_steps, t.warmup, t.schedule))
        self.state = TrainState()

    @property
    def train_tokens(self) -> list[list[str]]:
        """The training texts as token strings (made on first use: the fast path never needs them)."""
        if self._tokens is None:
            self._tokens = self.tokenizer.batch(self.splits.train.texts)
        return self._tokens

    def _features(self, texts: list[str], name: str):
        """A split as the model's features (zoo_core.batches), with a progress bar while it is read."""
        if not uses_ids(self.model):
            return TokenFeatures(self.model, self.train_tokens if name == "train" else self.tokenizer.batch(texts))
        progress = self._progress_bar(f"reading {name}", len(texts)) if len(texts) > 100_000 else None
        try:
            return featurize_texts(self.model, texts, self.run.tokenizer, progress=progress and (
                lambda done, total: progress.update(self._bar, completed=done)))
        finally:
            if progress is not None:
                progress.stop()

    def _labels(self) -> list[str]:
        labels = sorted(set(self.splits.train.labels))
        if len(labels) < 2:
            raise ZooError(f"the training data has {len(labels)} label(s); classification needs at least 2")
        parts = (self.splits.valid, self.splits.test)
        unknown = sorted({label for part in parts if part for label in part.labels} - set(labels))
        if unknown:
            raise ZooError(f"validation/test labels not in the training data: {unknown[:10]}; "
                           f"every label needs training examples")
        return labels

    def _wrap(self, model):
        wrapped = wrap_ddp(model, self.device, self._sparse) if self.world > 1 else model
        return CompiledOrEager(wrapped, self._log) if self.run.compile else wrapped

    @property
    def rank(self) -> int:
        return self.ranks.rank if hasattr(self, "ranks") else 0

    @property
    def world(self) -> int:
        return self.ranks.world if hasattr(self, "ranks") else 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def grad_norm(self) -> float:
        """The global gradient norm of the current step, before clipping: computed once a step
        for clipping and for the callbacks that log it."""
        if self._grad_norm is None:
            self._grad_norm = total_grad_norm(self.model)
        return self._grad_norm

    # -- the loop ------------------------------------------------------------------------
    def fit(self, resume: bool = False, splits: DatasetSplits | None = None) -> TrainResult:
        from ..lock import run_lock

        with run_lock(self.out_dir) if self.rank_hint == 0 else contextlib.nullcontext():
            return self._fit(resume, splits)

    @property
    def rank_hint(self) -> int:
        """This process's rank before ``prepare`` (torchrun sets RANK)."""
        import os

        return int(os.environ.get("RANK", "0") or 0)

    def _fit(self, resume: bool, splits: DatasetSplits | None) -> TrainResult:
        self.prepare(splits)
        if resume:
            load_state(self.out_dir, self)
            if self.state.bad_epochs >= self.run.train.patience:  # it had stopped early: finish, train no more
                return self._stop("early_stopping", time.perf_counter() - self.state.seconds)
        self._emit("on_train_start")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter() - self.state.seconds
        stopped = "completed"
        self.model.train()
        try:
            while self.state.epoch < self.run.train.epochs:
                stopped = self._run_epoch(start)
                if stopped != "completed":
                    break
                if self._end_epoch(start):
                    stopped = "early_stopping"
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
        return self._stop(stopped, start)

    def _run_epoch(self, start: float) -> str:
        """Train the rest of the current epoch; returns why it stopped ('completed' at its end)."""
        batches = self.task.batches(self.training_set, self.state.epoch)
        progress = self._progress(len(batches))
        self._epoch_clock, self._epoch_seen0 = time.perf_counter(), self.state.seen
        prefetch = Prefetcher(lambda b: self._encode_batch(batches[b]), self.state.batch, len(batches),
                              threaded=isinstance(self.train_features, TokenFeatures))  # slices: inline
        try:
            for b in range(self.state.batch, len(batches)):
                if self.max_steps is not None and self.state.step >= self.max_steps:
                    return "max_steps"
                budget = self.run.train.max_minutes
                if self.ranks.any(budget is not None and time.perf_counter() - start > budget * 60, self.device):
                    return "max_minutes"
                self._train_step(*prefetch.get(b))
                self.state.batch = b + 1
                if progress is not None:
                    s = self.state
                    progress.update(self._bar, advance=1, loss=s.loss_sum / s.seen, acc=s.correct / s.seen,
                                    rate=self._epoch_rate())
        finally:
            prefetch.close()
            if progress is not None:
                progress.stop()
        return "completed"

    def _encode_batch(self, batch: list[int]):
        idx, weight = self.ranks.shard(batch)
        return idx, weight, self.train_features.encode(idx)

    def _train_step(self, idx: list[int], weight: float, encoded: dict) -> None:
        inputs = {k: v.to(self.device) for k, v in encoded.items()}
        target = self._train_targets[torch.from_numpy(np.asarray(idx, dtype=np.int64))].to(self.device)
        out = self.task.forward(self.model, self.forward_model, inputs)
        loss = self.task.loss(self.model, out, target, idx)
        value = loss.item()
        if not math.isfinite(value):
            raise ZooError(f"the loss became {value} at step {self.state.step}; lower train.lr "
                           f"(now {self.scheduler.get_last_lr()[0]:.2e}) or set train.clip")
        self.optimizer.zero_grad(set_to_none=True)
        if loss.requires_grad:  # a head that learns by its own rule without a probe leaves nothing to backprop
            (loss * weight if weight != 1.0 else loss).backward()
        if getattr(self.model.head, "local_rule", False):
            with torch.no_grad():
                self.model.head.update(out["pooled"].detach(), target)
        self._grad_norm = None
        if self._sparse:  # once, in place: clipping, logging and the optimizer reuse it
            coalesce_sparse_grads(self._sparse.values())
            if self.world > 1:
                reduce_sparse_grads(self._sparse.values(), self.world)
        self._emit("on_after_backward", self.state.step)
        if self.run.train.clip:
            self.last_grad_norm = clip_gradients(self.model, self.run.train.clip, self.grad_norm())
        self._optimizer_step()
        self.scheduler.step()
        self.state.step += 1
        self._emit("on_step_end", self.state.step, value)
        self.state.seen += len(idx)
        self.state.loss_sum += value * len(idx)
        if out["logits"] is not None:
            self.state.correct += int((out["logits"].argmax(-1) == target).sum())

    def _optimizer_step(self) -> None:
        try:
            self.optimizer.step()
        except RuntimeError as exc:
            if "sparse" not in str(exc).lower():
                raise
            m = self.run.model
            raise ZooError(f"optim={m.optim.name} cannot take the sparse gradients of {m.embed.name} "
                           f"(embed.sparse=true); use optim=sparse_dense or embed.sparse=false") from None

    def _epoch_rate(self) -> float:
        return (self.state.seen - self._epoch_seen0) / max(1e-9, time.perf_counter() - self._epoch_clock)

    def _end_epoch(self, start: float) -> bool:
        """Validate, log and save at an epoch's end; True when early stopping says stop."""
        s = self.state
        s.epoch += 1
        s.seconds = time.perf_counter() - start
        self._refit_head()
        with interrupts_deferred():  # a save at this epoch's end completes before Ctrl-C takes effect
            return self._epoch_row(start, self._validate_and_keep_best(s.epoch))

    def _epoch_row(self, start: float, report: dict) -> bool:
        s = self.state
        row = {"epoch": s.epoch, "step": s.step, "train_loss": s.loss_sum / max(1, s.seen),
               "train_accuracy": s.correct / max(1, s.seen),
               **{f"valid_{k}": report[k] for k in self.task.metrics if isinstance(report.get(k), (int, float))},
               "lr": self.scheduler.get_last_lr()[0], "grad_norm": self.last_grad_norm,
               "examples_per_s": self._epoch_rate(), "seconds": s.seconds}
        s.history.append(row)
        s.start_epoch()
        self._emit("on_epoch_end", row)
        self._log(f"epoch {row['epoch']}/{self.run.train.epochs}  train loss {row['train_loss']:.4f}  "
                  f"valid {metric_title(self.metric)} {row[f'valid_{self.metric}']:.4f}  "
                  f"{row['examples_per_s']:.0f} ex/s  {row['seconds']:.1f}s")
        if time.perf_counter() - self._saved_at >= self.run.train.save_every * 60:
            self._save_all()
        return s.bad_epochs >= self.run.train.patience

    def _refit_head(self) -> None:
        """The trainer's seam for a head that learns by its own rule: the whole training set's
        pooled vectors, as the features now are (class hypervectors, stored kNN examples)."""
        if getattr(self.model.head, "local_rule", False):
            from ..inference import pooled_vectors

            vectors = pooled_vectors(self.model, self.train_features).to(self.device)
            with torch.no_grad():
                self.model.head.refit(vectors, torch.tensor(self.train_y, device=self.device))

    def _validate_and_keep_best(self, epoch_done: float) -> dict:
        report = self.task.evaluate(self.model, self.valid_features, self.valid_y, self.labels)
        if self.metric not in report or self.metric == "loss":
            raise ZooError(f"train.metric={self.metric}: not a validation metric of task {self.task.name}; use one "
                           f"of {', '.join(m for m in self.task.metrics if m != 'loss')}")
        s = self.state
        if s.best is None or report[self.metric] > s.best:
            s.best, s.best_epoch, s.bad_epochs = report[self.metric], epoch_done, 0
            s.best_report = {k: report[k] for k in self.task.metrics if k in report}
            # kept in memory; written by _flush_best at the next save (save_every) and when the run stops
            self._best_written = False
            self._best = ({k: v.detach().clone() for k, v in self.model.state_dict().items()},
                          {"best_epoch": epoch_done, "valid": s.best_report})
        else:
            s.bad_epochs += 1
        self.model.train()
        return report

    def _stop(self, stopped: str, start: float) -> TrainResult:
        s = self.state
        s.seconds = time.perf_counter() - start
        current = False  # whether the checkpoint on disk is the model in memory
        with self._checkpoint():
            if stopped in STOPS_TO_RESUME and s.best is None and s.step > 0:
                # stopped before the first validation: keep what we have, without touching the
                # early-stopping bookkeeping (a resumed run must behave like an uninterrupted one)
                self._save_model({"best_epoch": s.epoch})
                current = self._best is None
            # a normal end drops the resume state (train.keep_state=true keeps it)
            self._save_all(keep_state=stopped in STOPS_TO_RESUME or self.run.train.keep_state)
        result = TrainResult(out_dir=self.out_dir, epochs=s.epoch, steps=s.step, seconds=s.seconds, stopped=stopped,
                             rank=self.rank, parameters=count_parameters(self.model)[0],
                             metrics=tuple(self.task.metrics), primary_metric=self.metric)
        if self.is_main:
            self._finish(result, current)
        self._emit("on_train_end", result)
        self.ranks.close()
        return result

    def _finish(self, result: TrainResult, current: bool = False) -> None:
        """Score the best checkpoint on the test split and write the model card with the results
        (``current``: that checkpoint is the model in memory, so it is not read back)."""
        from ..card import write_card
        from ..checkpoint import WEIGHTS_FILE

        if not (self.out_dir / WEIGHTS_FILE).exists():
            return
        if self._best is not None or current:  # the best weights, in memory (the same as the checkpoint on disk)
            best = self.model
            if self._best is not None:
                best.load_state_dict(self._best[0])
            best.eval()
        else:  # a resumed run that did not improve on the checkpoint it started from
            best = ZooModel.from_pretrained(self.out_dir)
        result.best = dict(self.state.best_report)
        if self.splits.test is not None and len(self.splits.test):
            self._log(f"scoring the best checkpoint on the test split ({len(self.splits.test):,} examples)")
            tokens = self._features(self.splits.test.texts, "test")
            index = {label: i for i, label in enumerate(self.labels)}
            result.test = self.task.evaluate(best, tokens, [index[label] for label in self.splits.test.labels],
                                             self.labels)
        self._log("writing the model card")
        with generation(self.out_dir) as staging:
            write_card(staging, best, splits=self.splits, result=result, device=str(self.device),
                       command=self.command)

    # -- output --------------------------------------------------------------------------
    def _emit(self, event: str, *args) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self, *args)

    def _log(self, text: str) -> None:
        if self.console is not None and self.is_main:
            self.console.print(text, highlight=False, markup=False)

    def _progress(self, n_batches: int):
        return self._progress_bar(f"epoch {self.state.epoch + 1}/{self.run.train.epochs}", n_batches,
                                  self.state.batch, training=True)

    def _progress_bar(self, label: str, total: int, completed: int = 0, training: bool = False):
        if not self.show_progress or self.console is None or not self.is_main:
            return None
        progress, self._bar = (epoch_bar if training else progress_bar)(self.console, label, total, completed)
        return progress
