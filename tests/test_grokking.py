"""The grokking experiment scaled down to seconds: the modular_arithmetic data set and the
``grokking`` recipe through the real trainer. The delayed rise of validation accuracy itself
takes minutes (docs/grokking.md: p=47, ~1,500 full-batch steps); here the memorisation phase
is checked (training accuracy reaches 100% while validation stays far below) along with the
curves the full run draws, and that the trainer takes exactly the steps of the plain loop the
docs describe (full-batch AdamW on every parameter, linear warm-up then constant LR, no
clipping, no dropout)."""
import copy
import json

import pytest
import torch

from zoo_core.errors import ZooError
from zoo_core.overrides import compose
from zoo_core.train.loop import Trainer
from zoo_plugins.datasets.modular import load, table


def test_the_table_by_hand():
    rows = dict(table(5, "-"))
    assert rows["1 - 3"] == "3" and rows["4 - 4"] == "0" and len(rows) == 25
    div = dict(table(7, "/"))
    assert div["3 / 5"] == "2" and len(div) == 42  # 5 * 3 = 15 = 1 (mod 7), so 3 / 5 = 3 * 3 = 2; b = 0 is left out
    assert all(int(y) == (int(t.split()[0]) * pow(int(t.split()[2]), 5, 7)) % 7 for t, y in div.items())


def test_splits_are_seeded_disjoint_and_cover_the_table():
    a, b = load(seed=1, p=11, train_fraction=0.3), load(seed=1, p=11, train_fraction=0.3)
    assert a.train.texts == b.train.texts and len(a.train) == round(121 * 0.3)
    assert not set(a.train.texts) & set(a.valid.texts) and len(a.train) + len(a.valid) == 121
    assert load(seed=2, p=11).train.texts != load(seed=1, p=11).train.texts


@pytest.mark.parametrize("options, message", [({"p": 12}, "prime"), ({"op": "*"}, "choose one of"),
                                               ({"train_fraction": 1.0}, "between 0 and 1")])
def test_bad_options_say_what_to_do(options, message):
    with pytest.raises(ZooError, match=message):
        load(**options)


def test_the_recipe_scaled_down_memorises_first_and_draws_both_curves(tmp_path):
    run = compose(["recipe=grokking", "data.options.p=11", "data.options.train_fraction=0.5", "dim=32",
                   "mixer.0.heads=2", "train.epochs=100", "train.max_minutes=1"])
    result = Trainer(run, tmp_path).fit()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert result.steps == len(rows)  # full batch: one step an epoch
    memorised = next(r for r in rows if r["train_accuracy"] == 1.0)
    assert memorised["valid_accuracy"] < 0.6  # validation far behind when training is perfect
    assert (tmp_path / "curves.png").stat().st_size > 0


SMALL = ["recipe=grokking", "data.options.p=11", "data.options.train_fraction=0.5", "dim=32", "mixer.0.heads=2"]


def plain_loop_losses(model, x, y, steps: int, lr: float, warmup: int) -> list[float]:
    """The docs' algorithm written out: full batch, cross-entropy, torch's AdamW over every
    parameter (weight decay 1.0, betas 0.9/0.98), LR rising linearly over ``warmup`` steps and
    then constant."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1.0, betas=(0.9, 0.98))
    losses = []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup)
        model.train()
        loss = torch.nn.functional.cross_entropy(model(x)["logits"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_the_trainer_takes_the_plain_loops_steps(tmp_path):
    # the recipe through zoo train must be the documented full-batch loop, step for step:
    # undecayed norm gains (optim.decay_all=false), other betas, dropout, label smoothing or
    # minibatches each make the trajectories part within a few steps
    run = compose(SMALL)
    steps, warmup = 25, int(run.train.epochs * run.train.warmup)
    assert warmup >= 2 and run.train.lr == 0.003
    # what 25 steps cannot show (a cosine decay over 3,000 steps has barely begun, the gradient
    # norm is still below any clip): the LR stays constant, nothing clips, nothing stops early
    t = run.train
    assert (t.schedule, t.clip, t.patience >= t.epochs, run.model.dropout, run.model.token_dropout) == \
        ("constant", None, True, 0.0, 0.0)
    assert t.batch_size >= round(47 * 47 * 0.4)  # full batch at the recipe's own p
    reference = Trainer(run, tmp_path / "ref", progress=False)
    reference.prepare()  # the same seed: the same initial weights, features and class order
    model = copy.deepcopy(reference.model)
    n = len(reference.train_y)
    expected = plain_loop_losses(model, reference.train_features.encode(list(range(n))),
                                 torch.tensor(reference.train_y), steps, run.train.lr, warmup)
    seen = []

    class Record:
        def on_step_end(self, trainer, step, loss):
            seen.append(loss)

    Trainer(compose(SMALL), tmp_path / "run", progress=False, max_steps=steps, callbacks=[Record()]).fit()
    assert len(seen) == steps
    assert seen == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert expected[-1] < expected[0] - 0.1  # it did learn: the comparison is not of flat lines


@pytest.mark.parametrize("log_steps", [True, False])
def test_curves_draw_a_log_step_axis_when_asked(tmp_path, monkeypatch, log_steps):
    from zoo_core.plots import plot_curves, pyplot

    plt = pyplot()
    figure = plt.figure()
    axes_class = type(figure.gca())
    plt.close(figure)
    scales, original = [], axes_class.set_xscale
    monkeypatch.setattr(axes_class, "set_xscale", lambda ax, value, **kw: (scales.append(value), original(ax, value, **kw)))
    steps = [{"step": s, "loss": 1 / s, "lr": 1e-3, "grad_norm": 1.0} for s in range(1, 301)]
    epochs = [{"step": s, "train_loss": 1 / s, "train_accuracy": min(1.0, s / 100), "valid_accuracy": 0.02,
               "valid_loss": 4.0} for s in range(1, 301)]
    plot_curves(steps, epochs, tmp_path / "curves.png", log_steps=log_steps)
    assert scales == (["log"] * 4 if log_steps else []) and (tmp_path / "curves.png").stat().st_size > 0
