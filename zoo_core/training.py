"""Training: seeded, length-bucketed batches, warm-up + decay, clipping, early stopping on
the validation metric, best checkpoint kept, wall-clock budget, exact resume.

Exact resume: the data order of epoch e is a function of (seed, e) alone, and the torch RNG
state (dropout) is saved with the model, optimizer and schedule at every epoch end and at
any stop (budget, ``train.max_steps``, Ctrl-C). Resuming replays the same epoch order,
skips the batches already done and restores the RNG, so an interrupted-and-resumed run ends
with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .checkpoint import atomic_save_tensors, atomic_write_json, load_state_tensors, save_model, unpack_sparse
from .compose import build_model, build_optimizer, count_parameters
from .data import DatasetSplits, load_splits
from .errors import ZooError
from .metrics import classification_report
from .spec import RunSpec
from .tasks import get_task
from .tokenize import Tokenizer

STATE_DIR = "training_state"

# Callbacks are plain objects with any of these methods, each called with the trainer first:
#   on_train_start(trainer), on_after_backward(trainer, step)  (gradients are present),
#   on_step_end(trainer, step, loss), on_epoch_end(trainer, row), on_train_end(trainer, result)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ZooError(f"device={name}: CUDA is not available on this machine; use device=cpu or device=auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ZooError(f"device={name}: unknown device; use auto, cpu, cuda or cuda:N") from None


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffled, length-bucketed batches; depends only on (seed, epoch)."""
    rng = random.Random(seed * 1_000_003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(idx), chunk):
        part = sorted(idx[start:start + chunk], key=lambda i: lengths[i])
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def lr_factor(step: int, total: int, warmup: float, schedule: str) -> float:
    warm = max(1, int(total * warmup)) if warmup > 0 else 0
    if step < warm:
        return (step + 1) / warm
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1.0 - progress


@torch.no_grad()
def predict_tokens(model, token_lists: list[list[str]], batch_size: int = 256, device=None):
    """(probabilities (N, C), pooled weights per example or None) in input order."""
    model.eval()
    device = device or next(model.parameters()).device
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
    probs = [None] * len(token_lists)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        inputs = {k: v.to(device) for k, v in model.encode([token_lists[i] for i in idx]).items()}
        p = model(inputs)["logits"].float().softmax(-1).cpu()
        for j, i in enumerate(idx):
            probs[i] = p[j]
    return torch.stack(probs) if probs else torch.zeros(0, model.spec.num_classes)


def evaluate_tokens(model, token_lists, label_ids, labels, batch_size=256) -> dict:
    probs = predict_tokens(model, token_lists, batch_size)
    target = torch.tensor(label_ids)
    report = classification_report(label_ids, probs.argmax(-1).tolist(), labels)
    report["loss"] = float(nn.functional.nll_loss(probs.clamp_min(1e-12).log(), target)) if len(target) else 0.0
    return report


def sparse_gradient_params(model: nn.Module) -> dict[str, nn.Parameter]:
    """The trainable parameters of an embedder whose gradients are sparse (it sets the
    attribute ``sparse = True``, e.g. ``embed.sparse=true``), by their names in ``model``."""
    embed = getattr(model, "embed", None)
    if embed is None or not getattr(embed, "sparse", False):
        return {}
    return {f"embed.{n}": p for n, p in embed.named_parameters() if p.requires_grad}


def coalesce_sparse_grads(params) -> None:
    """Replace each sparse gradient by its coalesced form (duplicate rows summed), so the
    later readers (clipping, the gradient-norm log, the optimizer) do not each coalesce it."""
    for p in params:
        if p.grad is not None and p.grad.is_sparse and not p.grad.is_coalesced():
            p.grad = p.grad.coalesce()


def total_grad_norm(model: nn.Module) -> float:
    """The global L2 norm of all gradients; a sparse gradient counts through its stored
    values (coalesced, so duplicate rows are summed first), which ``clip_grad_norm_`` cannot do."""
    norms = []
    for p in model.parameters():
        if p.grad is None:
            continue
        g = p.grad.coalesce().values() if p.grad.is_sparse else p.grad
        norms.append(torch.linalg.vector_norm(g.detach().float()))
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


def clip_gradients(model: nn.Module, max_norm: float, total: float | None = None) -> float:
    """Scale every gradient, dense or sparse, so the global norm is at most ``max_norm``, as
    ``clip_grad_norm_`` does; ``total`` is that norm when already known. Returns it."""
    total = total_grad_norm(model) if total is None else total
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in model.parameters():
            if p.grad is not None:
                p.grad.mul_(scale)
    return total


# ---- optimizer state without pickle ----------------------------------------------------
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


class Trainer:
    def __init__(self, run: RunSpec, out_dir: str | Path, *, console=None, progress: bool = True,
                 max_steps: int | None = None, command: str = "", callbacks=()):
        self.run, self.out_dir = run, Path(out_dir)
        self._grad_norm: float | None = None
        self.task = get_task(run.task)
        from .diagnostics import callbacks_for  # train.plots, train.grad_flow, logger=tensorboard

        self.callbacks = list(callbacks) + callbacks_for(run, self.out_dir)
        self.console, self.show_progress = console, progress
        self.max_steps = max_steps
        self.command = command

    # -- setup ---------------------------------------------------------------------------
    def _prepare(self, splits: DatasetSplits | None = None):
        run = self.run
        self.device = resolve_device(run.device)
        self.rank, self.world = self._init_distributed()
        if self.device.type == "cpu":
            torch.set_num_threads(run.threads)
        self.splits = splits or load_splits(run.data, seed=run.seed)
        self.labels = sorted(set(self.splits.train.labels))
        if len(self.labels) < 2:
            raise ZooError(f"the training data has {len(self.labels)} label(s); classification needs at least 2")
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = sorted({l for part in (self.splits.valid, self.splits.test) if part for l in part.labels} - set(index))
        if unknown:
            raise ZooError(f"validation/test labels not in the training data: {unknown[:10]}; "
                           f"every label needs training examples")
        self.tokenizer = Tokenizer(run.tokenizer)
        self.train_tokens = self.tokenizer.batch(self.splits.train.texts)
        self.train_y = [index[l] for l in self.splits.train.labels]
        self.valid_tokens = self.tokenizer.batch(self.splits.valid.texts)
        self.valid_y = [index[l] for l in self.splits.valid.labels]
        self.lengths = [len(t) for t in self.train_tokens]
        run.model.num_classes = len(self.labels)
        self.model = build_model(run.model, seed=run.seed)
        self.model.run_spec = run
        self.model.labels = self.labels
        self.model.embed.fit(self.train_tokens)
        self.model.to(self.device)
        self._sparse = sparse_gradient_params(self.model)  # coalesced once a step; all-reduced here under DDP
        self.forward_model = self._wrap(self.model)
        self.optimizer = build_optimizer(self.model, run.model.optim, lr=run.train.lr)
        self.steps_per_epoch = math.ceil(len(self.train_tokens) / run.train.batch_size)
        self.total_steps = self.steps_per_epoch * run.train.epochs
        t = run.train
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, self.total_steps, t.warmup, t.schedule))
        self.state = {"epoch": 0, "batch": 0, "step": 0, "best": None, "best_epoch": 0, "bad_epochs": 0,
                      "seconds": 0.0, "history": []}

    # -- distributed data parallel and compilation ---------------------------------------
    def _init_distributed(self) -> tuple[int, int]:
        """Under torchrun (WORLD_SIZE > 1): join the process group (gloo on CPU, NCCL on GPU)."""
        import os

        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return 0, 1
        import torch.distributed as dist

        if self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
        return dist.get_rank(), dist.get_world_size()

    @property
    def is_main(self) -> bool:
        return getattr(self, "rank", 0) == 0

    def _wrap(self, model):
        wrapped = model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            # DDP all-reduces sparse gradients only for nn.Embedding/EmbeddingBag modules; an
            # embedder with embed.sparse=true keeps its tables as plain parameters (the hash
            # embedder's F.embedding_bag), so DDP leaves those out and _reduce_sparse_grads
            # all-reduces them after backward
            if self._sparse:
                DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, list(self._sparse))
            wrapped = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if self.run.compile:
            wrapped = CompiledOrEager(wrapped, self._log)
        return wrapped

    def grad_norm(self) -> float:
        """The global gradient norm of the current step, before clipping: computed once a step
        for clipping and for the callbacks that log it."""
        if self._grad_norm is None:
            self._grad_norm = total_grad_norm(self.model)
        return self._grad_norm

    def _reduce_sparse_grads(self) -> None:
        """What DDP does for dense gradients, for the parameters it was told to leave out: the
        mean over ranks. gloo all-reduces sparse tensors itself; nccl cannot, so there the
        gradient is all-reduced dense and made sparse again."""
        import torch.distributed as dist

        for p in self._sparse.values():
            g = p.grad
            if g is None:  # every rank must join each all-reduce: an untouched table sends nothing
                g = torch.sparse_coo_tensor(torch.empty((1, 0), dtype=torch.long, device=p.device),
                                            p.new_zeros((0, *p.shape[1:])), p.shape, check_invariants=False)
            if g.is_sparse and dist.get_backend() != "gloo":
                g = g.to_dense()
                dist.all_reduce(g)
                g = g.to_sparse(1)
            else:
                dist.all_reduce(g)
            p.grad = g.div_(self.world) if not g.is_sparse else g * (1.0 / self.world)

    def _shard(self, idx: list[int]) -> tuple[list[int], float]:
        """This rank's part of a global batch and the weight that makes the ranks' averaged
        gradient equal the gradient of the global batch mean."""
        if self.world == 1:
            return idx, 1.0
        local = idx[self.rank::self.world]
        if not local:  # fewer examples than ranks: run one, weighted 0, so every rank all-reduces
            return idx[:1], 0.0
        return local, len(local) * self.world / len(idx)

    def _encode_batch(self, batch: list[int]):
        idx, weight = self._shard(batch)
        return idx, weight, self.model.encode([self.train_tokens[i] for i in idx])

    def _any_rank(self, flag: bool) -> bool:
        if self.world == 1:
            return flag
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    # -- state for resume ----------------------------------------------------------------
    def save_state(self) -> None:
        if not self.is_main:
            return
        d = self.out_dir / STATE_DIR
        opt_tensors, opt_plain = split_optimizer_state(self.optimizer.state_dict())
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update(opt_tensors)
        tensors["rng.torch"] = torch.get_rng_state()
        atomic_save_tensors(d / "state.safetensors", tensors)
        atomic_write_json(d / "state.json", {
            "run": self.run.model_dump(mode="json"), "labels": self.labels,
            "embed_state": self.model.embed.state_json(), "trainer": self.state,
            "optimizer": opt_plain, "scheduler": self.scheduler.state_dict(), "command": self.command})

    def load_state(self) -> None:
        d = self.out_dir / STATE_DIR
        saved = json.loads((d / "state.json").read_text())
        tensors = unpack_sparse(load_state_tensors(d / "state.safetensors"))
        self.model.embed.load_state_json(saved["embed_state"])
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
        self.optimizer.load_state_dict(join_optimizer_state(
            {k: v for k, v in tensors.items() if k.startswith("optim.")}, saved["optimizer"]))
        self.scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(tensors["rng.torch"])
        self.state = saved["trainer"]

    @staticmethod
    def run_from_state(out_dir: str | Path) -> tuple[RunSpec, str]:
        path = Path(out_dir) / STATE_DIR / "state.json"
        if not path.is_file():
            raise ZooError(f"--resume {out_dir}: no {STATE_DIR}/state.json there; give the --out folder of "
                           f"an earlier zoo train run")
        saved = json.loads(path.read_text())
        return RunSpec.model_validate(saved["run"]), saved.get("command", "")

    # -- the loop ------------------------------------------------------------------------
    def _log(self, text: str) -> None:
        if self.console is not None and self.is_main:
            self.console.print(text, highlight=False, markup=False)

    def _validate_and_keep_best(self, epoch_done: float) -> dict:
        report = self.task.evaluate(self.model, self.valid_tokens, self.valid_y, self.labels)
        metric = self.run.train.metric or self.task.primary_metric
        if metric not in report or metric == "loss":
            raise ZooError(f"train.metric={metric}: not a validation metric of task {self.task.name}; use one of "
                           f"{', '.join(m for m in self.task.metrics if m != 'loss')}")
        value = report[metric]
        improved = self.state["best"] is None or value > self.state["best"]
        if improved:
            self.state.update(best=value, best_epoch=epoch_done, bad_epochs=0,
                              best_report={k: report[k] for k in self.task.metrics if k in report})
            if self.is_main:
                save_model(self.model, self.out_dir, labels=self.labels,
                           extra={"training": {"best_epoch": epoch_done, "valid": self.state["best_report"],
                                               "command": self.command}})
        else:
            self.state["bad_epochs"] += 1
        self.model.train()
        return report

    def fit(self, resume: bool = False, splits: DatasetSplits | None = None) -> TrainResult:
        self._prepare(splits)
        if resume:
            self.load_state()
        self._emit("on_train_start")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        t = self.run.train
        budget = t.max_minutes * 60 if t.max_minutes else None
        start = time.perf_counter() - self.state["seconds"]
        stopped = "completed"
        model, opt, sched = self.model, self.optimizer, self.scheduler
        model.train()
        metrics_path = self.out_dir / "metrics.jsonl"
        prefetch = None
        try:
            while self.state["epoch"] < t.epochs:
                epoch = self.state["epoch"]
                batches = self.task.batches(self, epoch)
                progress = self._progress(epoch, len(batches))
                seen = correct = 0
                loss_sum = 0.0
                grad_norm = 0.0
                t_epoch = time.perf_counter()
                prefetch = Prefetcher(lambda b: self._encode_batch(batches[b]), self.state["batch"], len(batches))
                for b in range(self.state["batch"], len(batches)):
                    if self.max_steps is not None and self.state["step"] >= self.max_steps:
                        stopped = "max_steps"
                        break
                    if self._any_rank(budget is not None and time.perf_counter() - start > budget):
                        stopped = "max_minutes"
                        break
                    idx, weight, encoded = prefetch.get(b)
                    inputs = {k: v.to(self.device) for k, v in encoded.items()}
                    target = torch.tensor([self.train_y[i] for i in idx], device=self.device)
                    out = self.forward_model(inputs)
                    loss = self.task.loss(model, out, target, idx)
                    if not torch.isfinite(loss):
                        raise ZooError(f"the loss became {loss.item()} at step {self.state['step']}; lower "
                                       f"train.lr (now {sched.get_last_lr()[0]:.2e}) or set train.clip")
                    opt.zero_grad(set_to_none=True)
                    (loss * weight if weight != 1.0 else loss).backward()
                    self._grad_norm = None
                    if self._sparse:  # once, in place: clipping, logging and the optimizer reuse it
                        coalesce_sparse_grads(self._sparse.values())
                        if self.world > 1:
                            self._reduce_sparse_grads()
                    self._emit("on_after_backward", self.state["step"])
                    if t.clip:
                        grad_norm = clip_gradients(model, t.clip, self.grad_norm())
                    try:
                        opt.step()
                    except RuntimeError as exc:
                        if "sparse" not in str(exc).lower():
                            raise
                        raise ZooError(f"optim={self.run.model.optim.name} cannot take the sparse gradients of "
                                       f"{self.run.model.embed.name} (embed.sparse=true); use optim=sparse_dense "
                                       f"or embed.sparse=false") from None
                    sched.step()
                    self.state["step"] += 1
                    self._emit("on_step_end", self.state["step"], loss.item())
                    self.state["batch"] = b + 1
                    seen += len(idx)
                    loss_sum += loss.item() * len(idx)
                    if out["logits"] is not None:
                        correct += int((out["logits"].argmax(-1) == target).sum())
                    if progress is not None:
                        rate = seen / max(1e-9, time.perf_counter() - t_epoch)
                        progress.update(self._task, advance=1, loss=loss_sum / seen, acc=correct / seen, rate=rate)
                prefetch.close()
                if progress is not None:
                    progress.stop()
                if stopped != "completed":
                    break
                self.state["epoch"] += 1
                self.state["batch"] = 0
                self.state["seconds"] = time.perf_counter() - start
                report = self._validate_and_keep_best(self.state["epoch"])
                row = {"epoch": self.state["epoch"], "step": self.state["step"],
                       "train_loss": loss_sum / max(1, seen), "train_accuracy": correct / max(1, seen),
                       **{f"valid_{k}": report[k] for k in self.task.metrics if isinstance(report.get(k), (int, float))},
                       "lr": sched.get_last_lr()[0], "grad_norm": grad_norm,
                       "examples_per_s": seen / max(1e-9, time.perf_counter() - t_epoch),
                       "seconds": self.state["seconds"]}
                self.state["history"].append(row)
                self._emit("on_epoch_end", row)
                if self.is_main:
                    with open(metrics_path, "a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
                primary = self.run.train.metric or self.task.primary_metric
                self._log(f"epoch {row['epoch']}/{t.epochs}  train loss {row['train_loss']:.4f} "
                          f"acc {row['train_accuracy']:.4f}  valid {primary} {row[f'valid_{primary}']:.4f}  "
                          f"{row['examples_per_s']:.0f} ex/s  "
                          f"{row['seconds']:.1f}s")
                self.save_state()
                if self.state["bad_epochs"] >= t.patience:
                    stopped = "early_stopping"
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
            if prefetch is not None:
                prefetch.close()
        self.state["seconds"] = time.perf_counter() - start
        if stopped in ("max_steps", "max_minutes", "interrupted"):
            if self.state["best"] is None and self.state["step"] > 0 and self.is_main:
                # stopped before the first validation: keep what we have, without touching the
                # early-stopping bookkeeping (a resumed run must behave like an uninterrupted one)
                save_model(self.model, self.out_dir, labels=self.labels,
                           extra={"training": {"best_epoch": self.state["epoch"], "command": self.command}})
            self.save_state()
        result = self._finish(stopped) if self.is_main else TrainResult(
            out_dir=self.out_dir, epochs=self.state["epoch"], steps=self.state["step"],
            seconds=self.state["seconds"], stopped=stopped, rank=self.rank)
        self._emit("on_train_end", result)
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
        return result

    def _emit(self, event: str, *args) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self, *args)

    def _progress(self, epoch: int, n_batches: int):
        if not self.show_progress or self.console is None or not self.is_main:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn(f"epoch {epoch + 1}/{self.run.train.epochs}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.4f}"),
                            TextColumn("acc {task.fields[acc]:.3f}"), TextColumn("{task.fields[rate]:.0f} ex/s"),
                            TimeElapsedColumn(), console=self.console, transient=True)
        progress.start()
        self._task = progress.add_task("train", total=n_batches, completed=self.state["batch"], loss=0.0, acc=0.0,
                                       rate=0.0)
        return progress

    def _finish(self, stopped: str) -> TrainResult:
        from .checkpoint import load_model

        result = TrainResult(out_dir=self.out_dir, epochs=self.state["epoch"], steps=self.state["step"],
                             seconds=self.state["seconds"], stopped=stopped,
                             parameters=count_parameters(self.model)[0])
        if not (self.out_dir / "model.safetensors").exists():
            return result
        best = load_model(self.out_dir)
        result.best = dict(self.state.get("best_report") or {})
        if self.splits.test is not None and len(self.splits.test):
            tokens = self.tokenizer.batch(self.splits.test.texts)
            index = {l: i for i, l in enumerate(self.labels)}
            result.test = self.task.evaluate(best, tokens, [index[l] for l in self.splits.test.labels], self.labels)
        from .card import write_card

        write_card(self.out_dir, best, splits=self.splits, result=result, device=str(self.device),
                   command=self.command)
        return result


class CompiledOrEager:
    """``torch.compile`` where it works on this machine; on the first failure (no C++
    compiler, an unsupported op, ...) it says so once and runs the model eagerly."""

    def __init__(self, module, log):
        self.module, self.log = module, log
        self.compiled = torch.compile(module, dynamic=True)
        self.failed = False

    def __call__(self, *args, **kwargs):
        if not self.failed:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # compilation errors surface on the first call
                self.failed = True
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.log(f"compile=true: torch.compile does not work here ({type(exc).__name__}: {first[:200]}); "
                         f"training continues without compilation")
        return self.module(*args, **kwargs)


class Prefetcher:
    """Encodes batch b+1 on a worker thread while batch b trains: encoding is Python work
    (tokens -> codes) that overlaps torch's GIL-free compute. One worker, in order, so the
    embedder's caches see one caller at a time; ``close`` waits for it before anything
    else (validation) encodes."""

    def __init__(self, fn, first: int, end: int):
        from concurrent.futures import ThreadPoolExecutor

        self.fn, self.end = fn, end
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-encode")
        self.pending = {first: self.pool.submit(fn, first)} if first < end else {}

    def get(self, b: int):
        future = self.pending.pop(b, None)
        result = future.result() if future is not None else self.fn(b)
        if b + 1 < self.end:
            self.pending[b + 1] = self.pool.submit(self.fn, b + 1)
        return result

    def close(self) -> None:
        for future in self.pending.values():
            future.cancel()
        self.pool.shutdown(wait=True)
        self.pending.clear()
