"""The grokking experiment scaled down to seconds: the modular_arithmetic data set and the
``grokking`` recipe through the real trainer. The delayed rise of validation accuracy itself
takes minutes (docs/grokking.md: p=47, ~3000 full-batch steps); here the memorisation phase
is checked (training accuracy reaches 100% while validation stays far below) along with the
curves the full run draws."""
import json

import pytest

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
                   "mixer.0.heads=2", "train.epochs=150", "train.max_minutes=1", "train.lr=0.003"])
    result = Trainer(run, tmp_path).fit()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert result.steps == len(rows)  # full batch: one step an epoch
    memorised = next(r for r in rows if r["train_accuracy"] == 1.0)
    assert memorised["valid_accuracy"] < 0.6  # validation far behind when training is perfect
    assert (tmp_path / "curves.png").stat().st_size > 0
