"""Scale-out through PyTorch's own engine: torchrun + DistributedDataParallel (gloo on CPU),
and torch.compile with its fallback."""
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from zoo_core.overrides import compose
from zoo_core.train.loop import Trainer

from helpers import run_zoo
from test_training import SMALL

# No dropout: ranks draw different random masks. SGD, not SMORMS3: SMORMS3 steps by about
# lr * sign(grad) whatever the gradient's size, so on rows whose gradient is ~0 the float
# noise of a different summation order (1 vs 2 processes) becomes a full step.
def merged(*lists):
    """Overrides with later keys replacing earlier ones (the command line refuses a key given twice)."""
    out = {}
    for arg in (a for args in lists for a in args):
        out[arg.partition("=")[0]] = arg
    return list(out.values())


COMMON = merged(SMALL, ["dropout=0", "token_dropout=0", "train.epochs=2", "optim=sgd", "train.lr=0.5"])


def last_weights(path):
    return {k: v for k, v in load_file(str(path / "training_state" / "state.safetensors")).items()
            if k.startswith("model.")}


@pytest.mark.parametrize("grads", [
    ["embed.sparse=false"],
    # sparse gradients of the hash table (the default recipe's): DDP leaves them to the trainer
    # (unit-normal table: with the default's 0.01 init the float noise of a different summation order
    # reaches 1.7e-5 on a few rows after 2 epochs at lr 0.5, just past the tolerance below)
    ["embed.sparse=true", "embed.importance=true", "embed.importance_buckets=4096", "optim.momentum=0",
     "embed.init_scale=1"],
], ids=["dense", "sparse"])
def test_two_cpu_processes_match_one_process_with_the_same_global_batch(tmp_path, grads):
    common = merged(COMMON, grads)
    one = run_zoo("train", *common, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "zoo_cli", "train", *common, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = last_weights(tmp_path / "one"), last_weights(tmp_path / "two")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5, msg=k)
    # rank 0 alone writes: one checkpoint, one log line per epoch, one summary
    files = lambda d: sorted(p.name for p in (tmp_path / d).iterdir())
    assert files("two") == files("one") and "model.safetensors" in files("two")
    for log in (p for p in files("one") if p.endswith(".jsonl")):
        lines = lambda d: len((tmp_path / d / log).read_text().splitlines())
        assert lines("two") == lines("one"), log  # not written once per rank
    assert len((tmp_path / "two" / "metrics.jsonl").read_text().splitlines()) == 2
    assert two.stdout.count("best validation accuracy") == 1
    steps = json.loads((tmp_path / "two" / "training_state" / "state.json").read_text())["trainer"]["step"]
    assert steps == json.loads((tmp_path / "one" / "training_state" / "state.json").read_text())["trainer"]["step"]


def test_compile_falls_back_with_a_message(tmp_path, monkeypatch):
    messages = []

    def broken_compile(module, **kwargs):
        def fail(*args, **kw):
            raise RuntimeError("no working C++ compiler found\nmore detail")
        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    trainer = Trainer(compose(SMALL + ["train.epochs=1", "compile=true"]), tmp_path / "c")
    trainer._log = messages.append
    result = trainer.fit()
    assert result.stopped == "completed" and result.best["accuracy"] > 0
    assert any("compile=true: torch.compile does not work here (RuntimeError: no working C++ compiler found); "
               "training continues without compilation" in m for m in messages), messages
