"""Fault injection (issue 21): ``zoo train`` is killed with SIGKILL in a real child process at
EVERY call that changes what is on disk (rename, replace, link, symlink, unlink, rmdir) of a
two-epoch run — its first save, a save over an earlier one, the final card — and at random
moments (mid-epoch included). After each kill the model folder must load (when a
model was saved at all), and continuing — ``--resume`` when resume state is there, else the
same ``--out`` again, never a dead end — must end bit-identical to an uninterrupted run:
the best model's tensors, the last resume state's tensors and metrics.jsonl.

The child is forked from the test process (imports already done: a kill-and-resume trial
costs well under a second); one trial per boundary kind also runs the real ``python -m
zoo_cli`` in a fresh interpreter. ZOO_FAULT_TRIALS=N raises the number of random trials
(default 6); ZOO_FAULT_CALLS=all also kills before every fsync and mkdir (a SIGKILL loses no
written data, so those states equal their neighbours'; about three times slower).
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback

import pytest
import torch
from safetensors.torch import load_file

import zoo_core

from helpers import ZOO, write_tiny_langid_tsv

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")

DISK_CALLS = ("replace", "rename", "link", "symlink", "unlink", "rmdir") + (
    ("mkdir", "fsync") if os.environ.get("ZOO_FAULT_CALLS") == "all" else ())
TIMING = ("examples_per_s", "seconds")
TRAIN = ["dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "embed.num_bits=256", "train.epochs=2",
         "train.batch_size=16", "train.patience=9", "train.plots=false", "token_dropout=0.1", "seed=3",
         "train.keep_state=true", "train.save_every=0"]  # every epoch's save is a kill point; the resume state
# is compared too (a normal end drops it otherwise)

# runs in the child: count disk-changing calls, SIGKILL ourselves just before call number KILL_AT
CHILD_PATCH = """
import os, signal
def _patch(kill_at, count_file):
    state = {"n": 0}
    def wrap(fn):
        def inner(*args, **kwargs):
            state["n"] += 1
            if state["n"] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)
        return inner
    for name in %r:
        setattr(os, name, wrap(getattr(os, name)))
    if count_file:
        import atexit
        atexit.register(lambda: open(count_file, "w").write(str(state["n"])))
    return state
""" % (DISK_CALLS,)


def fork_zoo(args, kill_at=None, count_file=None) -> int:
    """``zoo ARGS`` in a forked child; returns its exit code, or -9 when it was killed."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            scope: dict = {}
            exec(CHILD_PATCH, scope)
            state = scope["_patch"](kill_at, None)
            from zoo_cli.main import main

            try:
                main([str(a) for a in args])
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            if count_file:
                with open(count_file, "w") as f:
                    f.write(str(state["n"]))
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return _wait(pid)


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def subprocess_zoo(args, kill_at: int) -> int:
    """The real CLI in a fresh interpreter, SIGKILLed before disk call ``kill_at``."""
    code = CHILD_PATCH + f"\n_patch({kill_at}, None)\nfrom zoo_cli.main import main\nmain({[str(a) for a in args]!r})\n"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    return r.returncode


def outcome(folder) -> dict:
    """What must be identical: tensors of the best model and of the last resume state, the log."""
    best = load_file(str(folder / "model.safetensors"))
    state = {k: v for k, v in load_file(str(folder / "training_state" / "state.safetensors")).items()
             if k.startswith("model.")}
    rows = [{k: v for k, v in json.loads(line).items() if k not in TIMING}
            for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return {"best": best, "state": state, "metrics": rows}


def same(a: dict, b: dict) -> bool:
    return (a["metrics"] == b["metrics"] and all(a[k].keys() == b[k].keys() for k in ("best", "state"))
            and all(torch.equal(a[k][n], b[k][n]) for k in ("best", "state") for n in a[k]))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    data = write_tiny_langid_tsv(root / "langid.tsv")
    args = ["train", f"data={data}", *TRAIN]
    from zoo_cli.main import main

    try:  # once in this process: imports and the plugin registry are then shared by every fork
        main([str(a) for a in args] + ["--out", str(root / "warm-up")])
    except SystemExit as e:
        assert not e.code
    count = root / "count"
    assert fork_zoo([*args, "--out", root / "reference"], count_file=count) == 0
    return root, args, int(count.read_text()), outcome(root / "reference")


def continue_and_check(root, args, folder, expected) -> None:
    """The folder loads (if it holds a model) and continuing it ends where the reference did."""
    if (folder / "config.json").exists():
        zoo_core.load(folder)  # raises on a torn checkpoint
    if (folder / "training_state" / "state.json").exists():
        code = fork_zoo(["train", "--resume", folder])
    else:  # nothing resumable was saved: the same --out must be accepted as fresh
        code = fork_zoo([*args, "--out", folder])
    assert code == 0, f"continuing {folder} failed (exit {code})"
    assert same(outcome(folder), expected), f"{folder}: resumed run differs from the uninterrupted one"


def test_kill_at_every_disk_boundary_then_resume_is_bit_identical(reference):
    root, args, n_calls, expected = reference
    assert n_calls > 20  # the run really saves (2 epochs, the card)
    for k in range(1, n_calls + 1):
        folder = root / f"kill-{k}"
        code = fork_zoo([*args, "--out", folder], kill_at=k)
        assert code == -signal.SIGKILL, f"boundary {k} of {n_calls}: the run was not killed (exit {code})"
        continue_and_check(root, args, folder, expected)


def test_kill_at_random_moments_then_resume_is_bit_identical(reference):
    root, args, _, expected = reference
    rng = random.Random(int(os.environ.get("ZOO_FAULT_SEED", "21")))
    t0 = time.perf_counter()
    assert fork_zoo([*args, "--out", root / "timed"]) == 0
    full = time.perf_counter() - t0
    for trial in range(int(os.environ.get("ZOO_FAULT_TRIALS", "6"))):
        folder = root / f"random-{trial}"
        pid = os.fork()
        if pid == 0:
            try:
                from zoo_cli.main import main

                main([*map(str, args), "--out", str(folder)])
            except BaseException:
                pass
            os._exit(0)
        time.sleep(rng.uniform(0.05, full))
        os.kill(pid, signal.SIGKILL)
        _wait(pid)
        continue_and_check(root, args, folder, expected)


def test_real_cli_process_killed_at_a_save_then_resumed(reference, where=0.5):
    """The same, with ``python -m zoo_cli`` in a fresh interpreter (no fork)."""
    root, args, n_calls, expected = reference
    folder = root / f"cli-{where}"
    assert subprocess_zoo([*args, "--out", folder], kill_at=int(n_calls * where)) == -signal.SIGKILL
    if (folder / "training_state" / "state.json").exists():
        r = subprocess.run([*ZOO, "train", "--resume", str(folder)], capture_output=True, text=True,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    else:
        r = subprocess.run([*ZOO, *map(str, args), "--out", str(folder)], capture_output=True, text=True,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert same(outcome(folder), expected)
