"""``zoo tune``: Optuna's TPE sampler over a search space written in the sweep grammar
(space.py), a pruner fed by the trainer's per-epoch validation metric (its ``on_epoch_end``
callback), and the study in an RDB storage (default: SQLite in the sweep folder), so a
stopped search continues and workers on several machines can share one study (``--storage``).

    SWEEP/tune.json             the command (read by the worker processes of --jobs)
    SWEEP/study.db              the study (inspect it with optuna-dashboard sqlite:///SWEEP/study.db)
    SWEEP/trials/NNNN/          each trial is an ordinary run folder
    SWEEP/best.json, trials.csv, importance.md, importance.png

Decisions use the validation split only: trials are trained without their test split, and the
best trial alone is scored on test at the end. An interrupted trial (Ctrl-C) is recorded as
failed with ``interrupted`` and queued again with the same parameters; the next run resumes its
folder from ``training_state/`` (zoo_core.train.state). A worker that was killed outright is
found by Optuna's heartbeat and its trial queued again the same way.
"""
from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from zoo_core import grammar
from zoo_core.errors import ZooError

from .space import Space, parse_space
from .sweep import STATE, failure_reason, interruptible

HEARTBEAT_S, GRACE_S = 60, 180


def install_line() -> str:
    """How to add Optuna: from a source checkout, its own extra; otherwise the distribution's."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "zoo_core").is_dir():
        return f"pip install -e '{root}[tune]'"
    return "pip install 'zoo-nlp[tune]'"


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise ZooError(f"zoo tune needs Optuna, an optional extra; install it with: {install_line()}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass
class TuneContext:
    folder: Path
    args: list[str]
    fixed: list[str]
    storage: str
    study: str
    trials: int
    timeout: float | None = None
    pruner: str = "median"
    seed: int | None = None
    space: Space = field(default_factory=Space, repr=False)

    @classmethod
    def create(cls, args: list[str], folder: Path, *, storage, study, trials, timeout, pruner, seed, threads):
        from zoo_core.overrides import compose

        space = parse_space(args)
        if not space.axes and not space.ranges:
            raise ZooError("nothing to search; give choices or ranges, e.g. train.lr=log(1e-4,1e-1) "
                           "mixer=lambda,gmlp dim=choice(64,128)")
        user_threads = any(o.split("=")[0] == "threads" for o in space.fixed) or "threads" in space.keys
        fixed = space.fixed + ([] if user_threads else [f"threads={threads}"])
        probe = [f"{k}={v[0]}" for k, v in space.axes] + [grammar.format_pair(k, r.low) for k, r in space.ranges]
        compose(fixed + probe)  # a typo fails here, once, not in every trial
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        storage = storage or f"sqlite:///{(folder / 'study.db').resolve()}"
        ctx = cls(folder, list(args), fixed, storage, study, trials, timeout, pruner, seed, space)
        (folder / "tune.json").write_text(json.dumps({k: v for k, v in asdict(ctx).items() if k != "space"},
                                                     default=str, indent=1))
        return ctx

    @classmethod
    def load(cls, folder: Path) -> "TuneContext":
        saved = json.loads((Path(folder) / "tune.json").read_text())
        saved["folder"] = Path(saved["folder"])
        return cls(**saved, space=parse_space(saved["args"]))

    def open_study(self, worker: int = 0):
        """The study; worker N of --jobs samples with seed+N (the same seed twice would repeat trials)."""
        import warnings

        optuna = require_optuna()
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        kwargs = {"connect_args": {"timeout": 120}} if self.storage.startswith("sqlite") else {}
        storage = optuna.storages.RDBStorage(self.storage, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S,
                                             grace_period=GRACE_S, heartbeat_stale_trial_callback=requeue)
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1) if self.pruner == "median"
                  else optuna.pruners.NopPruner())
        return optuna.create_study(study_name=self.study, storage=storage, direction="maximize",
                                   sampler=optuna.samplers.TPESampler(seed=None if self.seed is None
                                                                      else self.seed + worker), pruner=pruner,
                                   load_if_exists=True)

    def fixed_threads(self) -> str:
        return next((o.split("=", 1)[1] for o in self.fixed if o.startswith("threads=")), "1")

    def finished(self, study=None) -> int:
        """Trials that count towards --trials: complete, pruned, or failed for a reason of their own."""
        study = study or self.open_study()
        return sum(counts(t) for t in study.get_trials(deepcopy=False))


def counts(trial) -> bool:
    state = trial.state.name
    return state in ("COMPLETE", "PRUNED") or (state == "FAIL" and not trial.user_attrs.get("interrupted"))


def requeue(study, trial) -> None:
    """Queue an interrupted or abandoned trial again; the new trial resumes its run folder."""
    study.enqueue_trial(trial.params, user_attrs={"resume_of": trial.user_attrs.get("resume_of", trial.number)})


def requeue_interrupted(study) -> None:
    trials = study.get_trials(deepcopy=False)
    queued = {t.user_attrs.get("resume_of") for t in trials}
    for t in trials:
        source = t.user_attrs.get("resume_of", t.number)
        if t.state.name == "FAIL" and t.user_attrs.get("interrupted") and source not in queued:
            requeue(study, t)
            queued.add(source)


# ---- a trial ---------------------------------------------------------------------------------
class Pruning:
    """Trainer callback: report each epoch's validation metric; stop a trial the pruner gives up on."""

    def __init__(self, trial):
        self.trial = trial

    def on_train_start(self, trainer):
        for row in trainer.state.history:  # a resumed trial reports the epochs it already has
            self.on_epoch_end(trainer, row, prune=False)

    def on_epoch_end(self, trainer, row, prune=True):
        import optuna

        value = row.get(f"valid_{trainer.metric}")
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.trial.report(value, step=int(row["epoch"]))
        if prune and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {row['epoch']}")


def suggest(trial, space: Space) -> list[str]:
    out = [f"{key}={trial.suggest_categorical(key, values)}" for key, values in space.axes]
    for key, r in space.ranges:
        value = (trial.suggest_int(key, r.low, r.high, log=r.log) if r.kind == "int"
                 else trial.suggest_float(key, r.low, r.high, log=r.log))
        out.append(grammar.format_pair(key, value))
    return out


def objective(trial, ctx: TuneContext, callbacks=()) -> float:
    from zoo_core.data import load_splits
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer
    from zoo_core.train.state import run_from_state

    overrides = ctx.fixed + suggest(trial, ctx.space)
    source = trial.user_attrs.get("resume_of")
    folder = ctx.folder / "trials" / f"{trial.number if source is None else source:04d}"
    resumed = source is not None and (folder / STATE).is_file()
    for key, value in (("run_dir", str(folder)), ("overrides", overrides), ("resumed", resumed),
                       ("worker", f"{socket.gethostname()}:{os.getpid()}")):
        trial.set_user_attr(key, value)
    try:
        if resumed:
            run, command = run_from_state(folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)
            run, command = compose(overrides), "zoo train " + " ".join(shlex.quote(o) for o in overrides)
        splits = load_splits(run.data, seed=run.seed)
        splits.test = None  # decisions see validation only; the best trial alone meets test
        trainer = Trainer(run, folder, console=None, progress=False, max_steps=run.train.max_steps,
                          command=command, callbacks=[Pruning(trial), *callbacks])
        result = trainer.fit(resume=resumed, splits=splits)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001
        if type(e).__name__ == "TrialPruned":
            raise
        trial.set_user_attr("failure", failure_reason(e))
        return float("nan")  # Optuna records a failed trial; the search goes on
    if result.stopped == "interrupted":
        trial.set_user_attr("interrupted", True)
        raise KeyboardInterrupt
    trial.set_user_attr("metric", result.primary_metric)
    trial.set_user_attr("seconds", round(result.seconds, 2))
    trial.set_user_attr("parameters", result.parameters)
    return float(result.best[result.primary_metric])


def run_worker(ctx: TuneContext, n_trials: int, console=None, callbacks=(), worker: int = 0) -> bool:
    """Run up to ``n_trials`` trials in this process; False when interrupted."""
    study = ctx.open_study(worker)

    def after(study, trial):
        if console is not None:
            console.print(trial_line(trial), highlight=False, markup=False)
        if ctx.finished(study) >= ctx.trials:
            study.stop()

    try:
        study.optimize(lambda t: objective(t, ctx, callbacks), n_trials=n_trials, timeout=ctx.timeout,
                       callbacks=[after])
    except KeyboardInterrupt:
        return False
    return True


def trial_line(trial) -> str:
    params = " ".join(f"{k}={v}" if isinstance(v, str) else grammar.format_pair(k, _short(v))
                      for k, v in trial.params.items())
    if trial.state.name == "COMPLETE":
        what = f"valid {trial.user_attrs.get('metric', 'metric')} {trial.value:.4f}"
    elif trial.state.name == "FAIL":
        what = "failed: " + trial.user_attrs.get("failure", "interrupted" if trial.user_attrs.get("interrupted") else "?")
    else:
        what = trial.state.name.lower()
    resumed = f" (resumed trial {trial.user_attrs['resume_of']})" if trial.user_attrs.get("resumed") else ""
    return f"trial {trial.number}: {what}  {params}{resumed}"


def _short(value):
    return float(f"{value:.4g}") if isinstance(value, float) else value


def optimize(ctx: TuneContext, jobs: int, console=None) -> bool:
    """Run the trials still missing: in this process, or in ``jobs`` worker processes that share
    the study (Optuna's own distributed mode), each given its share of the trials."""
    study = ctx.open_study()
    requeue_interrupted(study)
    remaining = ctx.trials - ctx.finished(study)
    if remaining <= 0:
        return True
    if jobs == 1:
        return run_worker(ctx, remaining, console)
    shares = [remaining // jobs + (i < remaining % jobs) for i in range(jobs)]
    env = {**os.environ, "OMP_NUM_THREADS": ctx.fixed_threads(), "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "zoo_tools.tune", str(ctx.folder), str(n), str(i)], env=env,
                              start_new_session=True) for i, n in enumerate(shares) if n]
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait()
        return False
    return all(c == 0 for c in codes)


def main(argv: list[str]) -> int:
    import warnings

    from rich.console import Console

    warnings.simplefilter("ignore")
    interruptible()
    ctx = TuneContext.load(Path(argv[0]))
    return 0 if run_worker(ctx, int(argv[1]), Console(highlight=False), worker=int(argv[2])) else 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
