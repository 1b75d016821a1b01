"""zoo compare and zoo tune end to end on a tiny real dataset: a small sweep (two mixers x two
seeds) and a small search, each interrupted and continued; the sweep grammar; the leaderboard's
arithmetic; Optuna as an optional extra."""
import json
import statistics
from pathlib import Path

import pytest

from helpers import is_png, run_zoo, zoo_in_process
from zoo_core.errors import ZooError
from zoo_core.overrides import compose, to_overrides
from zoo_tools.space import grid, parse_space

TINY = ["data=wordfreq_langid", "data.options.words_per_language=60", "data.options.languages=[en,de,fi]",
        "embed.num_bits=4096", "train.epochs=3", "train.plots=false"]


class InterruptAt:
    """What Ctrl-C does inside the trainer, at a chosen step (the trainer saves its resume state)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, step, loss):
        if step == self.step:
            raise KeyboardInterrupt


# ---- the grammar ---------------------------------------------------------------------------
def test_grid_expands_lists_ranges_recipes_and_keeps_stacks_and_task_options_whole():
    space = parse_space(["mixer=[lambda,gmlp],identity", "seed=range(0,3)", "recipe=default,lambda_seed",
                         "embed.num_bits=2**10", "task=few_shot:ways=5,shots=1", "dim=choice(32,2*32)"])
    assert space.fixed == ["embed.num_bits=1024", "task=few_shot:ways=5,shots=1"]
    assert space.axes == [("mixer", ["[lambda,gmlp]", "identity"]), ("seed", ["0", "1", "2"]),
                          ("recipe", ["default", "lambda_seed"]), ("dim", ["32", "64"])]
    runs = grid(space)
    assert len(runs) == 2 * 3 * 2 * 2
    assert runs[0] == [("mixer", "[lambda,gmlp]"), ("seed", "0"), ("recipe", "default"), ("dim", "32")]
    assert parse_space(["task=classification,retrieval:k=5"]).axes == [("task", ["classification", "retrieval:k=5"])]


def test_search_ranges_parse_and_compare_refuses_them():
    space = parse_space(["train.lr=log(1e-4,1e-1)", "embed.num_bits=int(2**14,2**18,log)", "dropout=float(0,0.5)"])
    (k1, lr), (k2, bits), (_, drop) = space.ranges
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-4, 1e-1, True)
    assert (bits.kind, bits.low, bits.high, bits.log) == ("int", 16384, 262144, True)
    assert (drop.log, drop.low, drop.high) == (False, 0.0, 0.5)
    with pytest.raises(ZooError, match=r"train.lr=log\(...\): a range to search; zoo compare runs lists"):
        grid(space)


@pytest.mark.parametrize("arg, message", [
    ("seed=range(3,0)", "is empty; STOP is exclusive"),
    ("train.lr=log(0,1)", "LOW > 0 for a log scale"),
    ("dim=int(1.5,4)", "int(...) needs whole numbers"),
    ("dim=int(a,4)", "'a' is not a number"),
    ("mixer=lambda,,gmlp", "an empty value in the list"),
    ("foo", "not an override"),
])
def test_grammar_mistakes_are_one_line_each(arg, message):
    with pytest.raises(ZooError) as e:
        parse_space([arg])
    assert len(e.value.problems) == 1 and message in e.value.problems[0]


def test_a_mistake_in_every_run_stops_the_sweep_before_it_starts(tmp_path, capsys):
    code, _, err = zoo_in_process(capsys, "compare", "mixer=lambda,gmlp", "dim=-3", "--out", tmp_path / "s")
    assert code == 2 and err.startswith("error: dim=-3: must be a positive whole number")
    assert not (tmp_path / "s").exists()


# ---- the leaderboard's arithmetic ------------------------------------------------------------
def test_leaderboard_rows_are_mean_and_sample_std_over_seeds_best_marked_failures_kept(tmp_path):
    from zoo_tools.leaderboard import build_rows, write_all
    from zoo_tools.sweep import Run

    def ok(config, seed, acc, secs):
        run = Run(config, seed, [], tmp_path / f"{config}{seed}")
        run.result = {"status": "ok", "config": config, "seed": seed, "metric": "accuracy", "valid": {"accuracy": acc},
                      "test": {"accuracy": acc - 0.1}, "parameters": 10, "seconds": secs, "examples_per_s": 100.0,
                      "predict_texts_per_s": 50.0}
        return run

    bad = Run("mixer=x", 0, [], tmp_path / "x", problem="mixer=x: unknown mixer 'x'")
    bad.result = {"status": "failed", "reason": bad.problem}
    runs = [ok("mixer=a", 0, 0.5, 1.0), ok("mixer=a", 1, 0.7, 3.0), ok("mixer=b", 0, 0.65, 2.0),
            ok("mixer=b", 1, 0.65, 2.0), bad]
    rows, metric = build_rows(runs)
    a, b, x = rows
    assert metric == "accuracy"
    assert a.valid_mean == pytest.approx(0.6) and a.valid_std == pytest.approx(statistics.stdev([0.5, 0.7]))
    assert a.test_mean == pytest.approx(0.5) and a.train_seconds == pytest.approx(2.0)
    assert b.best and not a.best and (b.valid_mean, b.valid_std) == (pytest.approx(0.65), 0.0)
    assert x.status == "failed: mixer=x: unknown mixer 'x'" and x.valid_mean is None
    write_all(tmp_path, rows, metric, "zoo compare ...")
    md = (tmp_path / "leaderboard.md").read_text().splitlines()
    assert md[-3].startswith("| ★ | mixer=b | 0.6500 |") and md[-2].startswith("|  | mixer=a | 0.6000 ± 0.1414 |")
    assert "failed: mixer=x" in md[-1]
    assert json.loads((tmp_path / "leaderboard.json").read_text())["rows"][0]["config"] == "mixer=b"
    assert is_png(tmp_path / "leaderboard.png")


# ---- zoo compare end to end ------------------------------------------------------------------
def test_compare_two_mixers_two_seeds_resumes_an_interrupted_run_and_skips_finished_ones(tmp_path):
    from zoo_tools.sweep import RESULT, STATE, plan, train_run, write_spec

    args = [*TINY, "mixer=identity,lambda,no_such_mixer", "seed=0,1"]
    sweep = tmp_path / "sweep"
    runs = plan(parse_space(args), sweep, threads=1)
    assert [(r.config, r.seed) for r in runs][:2] == [("mixer=identity", 0), ("mixer=identity", 1)]
    # the first run is stopped by Ctrl-C at step 2, as in a sweep someone interrupted
    write_spec(runs[0])
    assert train_run(runs[0].folder, callbacks=[InterruptAt(2)]) is None
    assert (runs[0].folder / STATE).is_file() and not (runs[0].folder / RESULT).exists()

    r = run_zoo("compare", *args, "--out", sweep, "--jobs", "2")
    assert r.returncode == 0, r.stderr
    results = [json.loads((run.folder / RESULT).read_text()) for run in runs[:4]]
    assert [x["status"] for x in results] == ["ok"] * 4
    assert [x["resumed"] for x in results] == [True, False, False, False]
    epochs = [json.loads(l)["epoch"] for l in (runs[0].folder / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]  # the resumed run trained each epoch once, to the end
    assert "done   mixer=identity seed=0" in r.stdout and "(resumed)" in r.stdout
    assert "failed mixer=no_such_mixer seed=0: mixer=no_such_mixer: unknown mixer" in r.stdout

    board = json.loads((sweep / "leaderboard.json").read_text())
    assert board["metric"] == "accuracy"
    rows = {row["config"]: row for row in board["rows"]}
    for config, members in (("mixer=identity", results[:2]), ("mixer=lambda", results[2:])):
        accs = [m["valid"]["accuracy"] for m in members]
        assert rows[config]["valid_mean"] == pytest.approx(statistics.fmean(accs))
        assert rows[config]["valid_std"] == pytest.approx(statistics.stdev(accs))
        assert rows[config]["seeds"] == 2 and rows[config]["predict_texts_per_s"] > 0
    assert sum(row["best"] for row in board["rows"]) == 1
    assert rows["mixer=no_such_mixer"]["status"].startswith("failed: mixer=no_such_mixer: unknown mixer")
    md = (sweep / "leaderboard.md").read_text()
    assert "★" in md and "valid accuracy" in md and (sweep / "leaderboard.csv").read_text().count("\n") == 4
    assert is_png(sweep / "leaderboard.png")

    stamps = [(run.folder / RESULT).stat().st_mtime_ns for run in runs[:4]]
    again = run_zoo("compare", *args, "--out", sweep, "--jobs", "2")
    assert again.returncode == 0 and "4 already done, 2 cannot be built, 0 to train" in again.stdout
    assert [(run.folder / RESULT).stat().st_mtime_ns for run in runs[:4]] == stamps


# ---- zoo tune end to end -----------------------------------------------------------------------
def test_tune_resumes_an_interrupted_trial_and_two_workers_share_one_sqlite_study(tmp_path):
    optuna = pytest.importorskip("optuna")
    from zoo_core.model import ZooModel
    from zoo_tools.tune import TuneContext, run_worker

    args = [*TINY, "train.lr=log(1e-3,1e-1)", "mixer=identity,lambda"]
    folder = tmp_path / "tune"
    ctx = TuneContext.create(args, folder, storage=None, study="zoo", trials=4, timeout=None, pruner="median",
                             seed=0, threads=1)
    assert run_worker(ctx, 1, callbacks=[InterruptAt(2)]) is False  # Ctrl-C during trial 0

    r = run_zoo("tune", *args, "--trials", "4", "--jobs", "2", "--seed", "0", "--out", folder)
    assert r.returncode == 0, r.stderr
    study = optuna.load_study(study_name="zoo", storage=f"sqlite:///{folder / 'study.db'}")
    trials = study.get_trials()
    first, rest = trials[0], trials[1:]
    assert first.state.name == "FAIL" and first.user_attrs["interrupted"]
    assert [t.state.name for t in rest].count("FAIL") == 0 and len(rest) == 4
    resumed = [t for t in rest if t.user_attrs.get("resume_of") == 0]
    assert len(resumed) == 1 and resumed[0].user_attrs["resumed"] and resumed[0].params == first.params
    assert resumed[0].user_attrs["run_dir"] == first.user_attrs["run_dir"]
    assert len({t.user_attrs["worker"] for t in rest}) == 2  # both worker processes ran trials on one file
    for t in rest:  # decisions saw validation only: no trial was scored on test (a pruned one has no card)
        if t.state.name == "COMPLETE":
            assert ", test " not in (Path(t.user_attrs["run_dir"]) / "README.md").read_text()

    best = json.loads((folder / "best.json").read_text())
    # the best of the completed trials (a pruned trial's value is its last epoch's, never chosen)
    assert best["valid"] == max(t.value for t in rest if t.state.name == "COMPLETE")
    assert best["test"]["n"] > 0 and 0 <= best["test"]["accuracy"] <= 1
    assert best["command"] in r.stdout
    reproduced = compose(best["overrides"])
    trained = ZooModel.from_pretrained(best["run_dir"]).run_spec
    assert to_overrides(reproduced) == to_overrides(trained)
    assert (folder / "importance.md").read_text().count("| `") == 2 and is_png(folder / "importance.png")

    again = run_zoo("tune", *args, "--trials", "4", "--jobs", "2", "--seed", "0", "--out", folder)
    assert again.returncode == 0 and "4 of 4 trials done" in again.stdout
    assert len(optuna.load_study(study_name="zoo", storage=f"sqlite:///{folder / 'study.db'}").trials) == 5


@pytest.mark.parametrize("checkout", [True, False])
def test_tune_without_optuna_names_the_install_line(monkeypatch, checkout, tmp_path):
    import sys

    import zoo_tools.tune as tune

    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ImportError
    monkeypatch.setattr(tune, "__file__", __import__("zoo_tools").__file__ if checkout else str(tmp_path / "t.py"))
    with pytest.raises(ZooError) as e:
        tune.require_optuna()
    line = "pip install -e '" if checkout else "pip install 'zoo-nlp[tune]'"
    assert "zoo tune needs Optuna" in str(e.value) and line in str(e.value)
    if checkout:
        assert str(e.value).endswith("[tune]'")
