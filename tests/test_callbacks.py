"""Training callbacks: gradient flow finds a blocked layer, curves and TensorBoard files."""
import json
import math
import warnings

import pytest
import torch

from zoo_core.errors import ZooError
from zoo_core.overrides import compose
from zoo_core.train import callbacks as cb
from zoo_core.train.loop import Trainer

from helpers import is_png

SMALL = ["data=wordfreq_langid", "data.options.words_per_language=120", "data.options.languages=[en,de,fi]",
         "dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "train.batch_size=32", "train.epochs=3", "train.patience=5", "train.lr=0.02"]

class ZeroMixerGradients:
    """Blocks the flow: every gradient that reaches the mixer's weights is replaced by zeros."""

    def on_train_start(self, trainer):
        for p in trainer.model.mixers[0].parameters():
            p.register_hook(torch.zeros_like)


def test_gradient_flow_names_the_blocked_layer_and_not_a_healthy_one(tmp_path):
    healthy = Trainer(compose(SMALL + ["train.grad_flow=true"]), tmp_path / "ok")
    with warnings.catch_warnings():
        warnings.simplefilter("error", cb.GradientFlowWarning)
        healthy.fit()
    flow = next(c for c in healthy.callbacks if isinstance(c, cb.GradientFlow))
    assert flow.steps >= 27 and not flow.blocked and not flow.warnings
    lines = [json.loads(l) for l in (tmp_path / "ok" / "grad_flow.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines] == list(range(flow.steps))
    layers = set(lines[0]["mean_abs_grad"])
    assert {"embed", "mixers.0.to_q", "pool.seed", "head"} <= layers
    assert not any("bias" in name for name in layers)  # the post: biases excluded
    assert all(v > 0 for v in lines[0]["mean_abs_grad"].values())

    blocked = Trainer(compose(SMALL + ["train.grad_flow=true"]), tmp_path / "blocked",
                      callbacks=[ZeroMixerGradients()])
    with pytest.warns(cb.GradientFlowWarning) as caught:
        blocked.fit()
    flow = next(c for c in blocked.callbacks if isinstance(c, cb.GradientFlow))
    mixer_layers = {name for name in layers if name.startswith("mixers.0.")}
    assert set(flow.blocked) == mixer_layers  # exactly the mixer, nothing upstream or downstream
    assert flow.blocked["mixers.0.to_q"] == 0  # near zero from the first step
    messages = [str(w.message) for w in caught]
    assert any("'mixers.0.to_q'" in m and f"{cb.NEAR_ZERO_STEPS} steps" in m for m in messages)
    for run in ("ok", "blocked"):
        assert is_png(tmp_path / run / "grad_flow.png") and is_png(tmp_path / run / "curves.png")


def test_curves_log_every_step_and_can_be_switched_off(tmp_path):
    t = Trainer(compose(SMALL + ["train.epochs=2"]), tmp_path / "a")
    result = t.fit()
    rows = [json.loads(l) for l in (tmp_path / "a" / "steps.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, result.steps + 1))
    assert all(r["grad_norm"] > 0 and r["lr"] > 0 and math.isfinite(r["loss"]) for r in rows)
    assert is_png(tmp_path / "a" / "curves.png")
    assert not (tmp_path / "a" / "grad_flow.png").exists()  # train.grad_flow is off by default
    Trainer(compose(SMALL + ["train.epochs=1", "train.plots=false"]), tmp_path / "b").fit()
    assert not (tmp_path / "b" / "curves.png").exists() and not (tmp_path / "b" / "steps.jsonl").exists()


def test_tensorboard_logger_writes_event_files_or_names_the_install(tmp_path, monkeypatch):
    run = compose(SMALL + ["train.epochs=1", "train.plots=false", "logger=tensorboard"])
    if cb.tensorboard_available():
        Trainer(run, tmp_path / "tb").fit()
        events = list((tmp_path / "tb" / "tb").glob("events.out.tfevents.*"))
        assert events and events[0].stat().st_size > 100
    monkeypatch.setattr(cb, "tensorboard_available", lambda: False)
    with pytest.raises(ZooError, match="pip install tensorboard"):
        Trainer(run, tmp_path / "none")
