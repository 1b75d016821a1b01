"""``zoo compare``: every combination of a grid (space.py), each trained as an ordinary run
folder (checkpoint, card, metrics) under one sweep folder, N at a time in separate processes
with the CPU threads split between them.

    SWEEP/sweep.json            the command and its runs
    SWEEP/runs/NAME/run.json    one run's overrides; result.json once it finished (or failed)
    SWEEP/leaderboard.{md,csv,json,png}

Stopping and starting the same command again skips finished runs (result.json), resumes
interrupted ones from their ``training_state/`` (zoo_core.train.state, as ``zoo train
--resume``) and starts the rest. A configuration that fails (a bad combination, a NaN loss,
out of memory) gets its one-line reason in result.json and its leaderboard row; the sweep goes on.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from zoo_core.errors import ZooError

from .space import Space, grid

RESULT, SPEC = "result.json", "run.json"
STATE = Path("training_state") / "state.json"


@dataclass
class Run:
    config: str  # the configuration's label: its grid values other than the seed
    seed: int
    overrides: list[str]  # what zoo train is given
    folder: Path
    problem: str | None = None  # why it cannot even be composed
    running: bool = False
    result: dict | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result["status"]
        if self.running:
            return "running"
        if self.problem:
            return "failed"
        return "interrupted" if (self.folder / STATE).is_file() else "pending"


def sweep_name(kind: str, args: list[str]) -> str:
    """The default sweep folder: the same command finds the same folder (and continues it)."""
    return f"{kind}-{hashlib.sha1(' '.join(args).encode()).hexdigest()[:8]}"


def _slug(pairs: list[tuple[str, str]], overrides: list[str]) -> str:
    text = "_".join(f"{k}-{v}" for k, v in pairs) or "base"
    text = re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_")[:60]
    return f"{text}-{hashlib.sha1(json.dumps(overrides).encode()).hexdigest()[:6]}"


def plan(space: Space, out: Path, threads: int) -> list[Run]:
    """Every run of the grid, composed (torch-free) so that bad combinations fail here, in their row."""
    from zoo_core.overrides import compose

    runs, problems = [], []
    user_threads = any(o.split("=")[0] == "threads" for o in space.fixed) or "threads" in space.keys
    for pairs in grid(space):
        overrides = space.fixed + [f"{k}={v}" for k, v in pairs] + ([] if user_threads else [f"threads={threads}"])
        config = " ".join(f"{k}={v}" for k, v in pairs if k != "seed") or "(base)"
        run = Run(config, 0, overrides, out / "runs" / _slug(pairs, overrides))
        try:
            run.seed = compose(overrides).seed
        except ZooError as e:
            run.problem = "; ".join(e.problems)
            problems.append(run.problem)
        runs.append(run)
    if runs and len(problems) == len(runs) and len(set(problems)) == 1:
        raise ZooError(*problems[0].split("; "))  # the same mistake in every run: the command is wrong
    return runs


def load_results(runs: list[Run], retry_failed: bool = False) -> None:
    for run in runs:
        path = run.folder / RESULT
        run.result = json.loads(path.read_text()) if path.is_file() else None
        if run.result and run.result["status"] == "failed" and retry_failed:
            path.unlink()
            run.result = None
        if run.problem and run.result is None:
            run.result = {"status": "failed", "reason": run.problem, "config": run.config, "seed": run.seed}


# ---- one run (in its own process: python -m zoo_tools.sweep FOLDER) --------------------------
def train_run(folder: Path, callbacks=()) -> dict | None:
    """Train (or resume) the run in ``folder``; write and return its result, or None when it was
    interrupted (its training_state is kept for the next attempt)."""
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer
    from zoo_core.train.state import run_from_state

    spec = json.loads((folder / SPEC).read_text())
    resumed = (folder / STATE).is_file()
    try:
        if resumed:
            run, command = run_from_state(folder)
        else:
            _clear(folder)
            run, command = compose(spec["overrides"]), "zoo train " + " ".join(spec["overrides"])
        trainer = Trainer(run, folder, console=None, progress=False, max_steps=run.train.max_steps,
                          command=command, callbacks=callbacks)
        result = trainer.fit(resume=resumed)
        if result.stopped == "interrupted":
            return None
        out = _ok_result(spec, trainer, result, resumed)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001 - any failure is this configuration's row, not the sweep's end
        out = {"status": "failed", "reason": failure_reason(e), "config": spec["config"], "seed": spec["seed"]}
    (folder / RESULT).write_text(json.dumps(out, indent=1))
    return out


def failure_reason(e: BaseException) -> str:
    if isinstance(e, ZooError):
        return "; ".join(e.problems)
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if isinstance(e, MemoryError) or "out of memory" in text.lower():
        return f"out of memory ({text or type(e).__name__})"
    return f"{type(e).__name__}: {text}"[:300]


def _clear(folder: Path) -> None:
    """A fresh start leaves nothing of an attempt that never reached its first save."""
    for child in folder.iterdir():
        if child.name not in (SPEC, "log.txt"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def _ok_result(spec: dict, trainer, result, resumed: bool) -> dict:
    metrics = [m for m in trainer.task.metrics if m != "loss"]
    rates = [row["examples_per_s"] for row in trainer.state.history if row.get("examples_per_s")]
    return {"status": "ok", "config": spec["config"], "seed": spec["seed"], "metric": result.primary_metric,
            "valid": {k: v for k, v in result.best.items() if k in metrics},
            "test": {k: v for k, v in (result.test or {}).items() if k in metrics} or None,
            "parameters": result.parameters, "seconds": round(result.seconds, 3), "epochs": result.epochs,
            "steps": result.steps, "stopped": result.stopped, "resumed": resumed,
            "examples_per_s": sum(rates) / len(rates) if rates else None,
            "predict_texts_per_s": predict_rate(trainer.out_dir, trainer.splits.valid.texts)}


def predict_rate(folder: Path, texts: list[str], most: int = 2000) -> float | None:
    """Texts per second through ``model.predict`` (tokenising included) of the saved best model."""
    from zoo_core.model import ZooModel

    if not texts or not (folder / "model.safetensors").is_file():
        return None
    model = ZooModel.from_pretrained(folder)
    texts = texts[:most]
    model.predict(texts[:32])  # warm-up
    start = time.perf_counter()
    model.predict(texts)
    return len(texts) / max(1e-9, time.perf_counter() - start)


# ---- the sweep (the parent process) ------------------------------------------------------------
def run_sweep(runs: list[Run], jobs: int, threads: int, on_change) -> bool:
    """Run every unfinished run, ``jobs`` at a time; ``on_change()`` after each start and end.
    Returns False when interrupted (Ctrl-C): the children save their state and stop."""
    todo = [r for r in runs if r.result is None]
    running: dict[subprocess.Popen, Run] = {}
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    try:
        while todo or running:
            while todo and len(running) < jobs:
                run = todo.pop(0)
                running[_start(run, env)] = run
                on_change()
            time.sleep(0.1)
            for proc in [p for p in running if p.poll() is not None]:
                _collect(running.pop(proc), proc.returncode)
                on_change()
    except KeyboardInterrupt:
        for proc in running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # the trainer saves its resume state and stops (interruptible())
        for proc, run in running.items():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            run.running = False  # now interrupted (resume state saved) or pending
        return False
    return True


def write_spec(run: Run) -> None:
    run.folder.mkdir(parents=True, exist_ok=True)
    (run.folder / SPEC).write_text(json.dumps({"config": run.config, "seed": run.seed,
                                               "overrides": run.overrides}, indent=1))


def _start(run: Run, env: dict) -> subprocess.Popen:
    write_spec(run)
    log = open(run.folder / "log.txt", "a", encoding="utf-8")
    # its own session: a Ctrl-C reaches the sweep alone, which passes exactly one SIGINT on
    proc = subprocess.Popen([sys.executable, "-m", "zoo_tools.sweep", str(run.folder)], stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    log.close()
    run.running = True
    return proc


def _collect(run: Run, returncode: int) -> None:
    run.running = False
    path = run.folder / RESULT
    if path.is_file():
        run.result = json.loads(path.read_text())
    elif returncode not in (130, -signal.SIGINT):  # died without a word: killed, crashed
        lines = [l for l in (run.folder / "log.txt").read_text(errors="replace").splitlines() if l.strip()]
        why = {-signal.SIGKILL: "killed (signal 9: out of memory?)"}.get(returncode, f"exit code {returncode}")
        reason = f"{why}: {lines[-1].strip()[:200]}" if lines else why
        run.result = {"status": "failed", "reason": reason, "config": run.config, "seed": run.seed}
        path.write_text(json.dumps(run.result, indent=1))


def interruptible() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, even in a process started with SIGINT ignored
    (a background job of a shell), so the trainer saves its resume state and stops."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str]) -> int:
    import warnings

    warnings.simplefilter("ignore")
    interruptible()
    try:
        return 0 if train_run(Path(argv[0])) is not None else 130
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
