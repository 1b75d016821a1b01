"""Few-shot and retrieval tasks: episode layout, held-out novel classes, metrics against
pytrec_eval, and short real training runs."""
import numpy as np
import pytest
import torch

from zoo_core.errors import ZooError
from zoo_core.overrides import compose
from zoo_core.tasks import TrainingSet, get_task
from zoo_plugins.tasks.few_shot import FewShotTask
from zoo_plugins.tasks.retrieval import retrieval_metrics
from zoo_core.train.loop import Trainer

LANGS = ["data=wordfreq_langid", "data.options.words_per_language=200",
         "data.options.languages=[en,de,fi,fr,es,it,nl,pl]", "tokenizer.unit=char_ngrams"]
FAST = ["dim=32", "mixer=identity", "train.plots=false", "train.patience=5", "train.lr=0.01"]


def test_retrieval_metrics_match_pytrec_eval():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(7, 30, generator=g)
    relevant = torch.rand(7, 30, generator=g) < 0.15
    relevant[:, 3] = True
    qrel = {f"q{q}": {f"d{d}": 1 for d in range(30) if relevant[q, d]} for q in range(7)}
    run = {f"q{q}": {f"d{d}": float(scores[q, d]) for d in range(30)} for q in range(7)}
    ref = pytrec_eval.RelevanceEvaluator(qrel, {"ndcg_cut_10", "map", "recall_5", "recall_10", "P_1"}).evaluate(run)
    mean = lambda m: sum(r[m] for r in ref.values()) / len(ref)
    got = retrieval_metrics(scores, relevant, k=10)
    for mine, theirs in (("ndcg@10", "ndcg_cut_10"), ("map", "map"), ("recall@5", "recall_5"),
                         ("recall@10", "recall_10"), ("precision@1", "P_1")):
        assert got[mine] == pytest.approx(mean(theirs), abs=1e-5), mine


def test_task_options_grammar():
    task = get_task("few_shot:ways=3,shots=1,queries=2")
    assert (task.ways, task.shots, task.queries) == (3, 1, 2)
    assert get_task("retrieval:k=5").primary_metric == "ndcg@5"
    with pytest.raises(ZooError, match="options: ways, shots"):
        get_task("few_shot:way=3")
    with pytest.raises(ZooError, match="did you mean 'few_shot'"):
        get_task("fewshot")
    with pytest.raises(ZooError, match="ways=abc is not a number"):
        get_task("few_shot:ways=abc")


def FakeTrainer(labels_per_example, n_labels, batch_size=16, seed=0):
    return TrainingSet(labels_per_example, [1] * len(labels_per_example), [f"l{i}" for i in range(n_labels)],
                       batch_size, seed)


def test_few_shot_episodes_put_support_first_and_never_show_novel_classes():
    y = [i % 8 for i in range(8 * 12)]
    task = FewShotTask(ways=3, shots=2, queries=4, novel=0.25)
    novel = task.novel_classes(8)
    assert novel == {3, 7}
    episodes = task.batches(FakeTrainer(y, 8), epoch=0)
    assert len(episodes) == 6  # ceil(96 / 16): what the LR schedule counts
    for ep in episodes:
        labels = [y[i] for i in ep]
        assert len(ep) == 3 * 6 and len(set(labels)) == 3 and not set(labels) & novel
        support = labels[: 3 * 2]
        assert sorted(support) == sorted(set(support)) * 2 or all(support.count(c) == 2 for c in set(support))
        # the prototypical loss takes each class's first half as support: that is these 2 of 6
        for c in set(labels):
            first = [i for i, l in enumerate(labels) if l == c][:2]
            assert all(i < 6 for i in first)
    assert task.batches(FakeTrainer(y, 8), 0) == episodes and task.batches(FakeTrainer(y, 8), 1) != episodes


@pytest.mark.parametrize("pool", ["mean", "prototype_attention"])
def test_few_shot_training_beats_chance_on_novel_languages(tmp_path, pool):
    run = compose(LANGS + FAST + [f"pool={pool}", "loss=prototypical", "task=few_shot:ways=2,shots=3,queries=3,"
                                  "episodes=100,novel=0.25", "train.epochs=4", "data.valid_fraction=0.3"])
    result = Trainer(run, tmp_path / pool, progress=False).fit()
    test = result.test  # 2-way episodes from languages never trained on: chance is 0.5
    assert test["classes"] == "novel" and test["episodes"] == 100
    assert test["accuracy"] - test["accuracy_ci95"] > 0.5


def test_retrieval_training_on_lemmas_beats_the_untrained_model(tmp_path):
    pytest.importorskip("spacy_lookups_data")
    base = ["data=lemmas", "data.options.max_groups=1500", "tokenizer.unit=char_ngrams", "task=retrieval",
            "loss=triplet_cosine", "dim=32", "mixer=identity", "pool=mean", "train.plots=false", "train.lr=0.01"]
    untrained = Trainer(compose([a for a in base if not a.startswith("train.lr")] + ["train.epochs=1", "train.max_steps=1", "train.lr=1e-6"]), tmp_path / "u",
                        progress=False).fit()
    trained = Trainer(compose(base + ["train.epochs=5"]), tmp_path / "t", progress=False).fit()
    assert {"ndcg@10", "map", "recall@10"} <= set(trained.test)
    assert trained.test["ndcg@10"] > untrained.test["ndcg@10"] + 0.05


def test_a_retrieval_run_reports_ndcg_and_map_under_their_own_names(tmp_path):
    """Tasks own their metrics: the summary, metrics.jsonl, the curves and the card of a
    retrieval run name NDCG@k and MAP, never an 'accuracy' or 'macro-F1' stand-in."""
    import json

    from helpers import is_png, run_zoo
    from zoo_core.plots import metric_series

    pytest.importorskip("spacy_lookups_data")
    out = tmp_path / "r"
    r = run_zoo("train", "data=lemmas", "data.options.max_groups=300", "tokenizer.unit=char_ngrams",
                "task=retrieval:k=5", "loss=triplet_cosine", "dim=16", "mixer=identity", "pool=mean",
                "train.epochs=1", "train.lr=0.01", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "best validation ndcg@5" in r.stdout and "best validation map" in r.stdout
    assert "accuracy" not in r.stdout and "macro-F1" not in r.stdout
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"valid_ndcg@5", "valid_map", "valid_recall@1"} <= set(row) and "valid_accuracy" not in row
    task = get_task("retrieval:k=5")
    assert list(metric_series([row], task.metrics)) == list(task.metrics)  # the curves' series, by name
    assert is_png(out / "curves.png")
    card = (out / "README.md").read_text()
    assert "ndcg@5 **" in card and "map **" in card and "accuracy" not in card.split("## Results")[1]


def test_classification_batches_cover_every_example_once_length_bucketed_and_replayable():
    from zoo_plugins.tasks.classification import epoch_batches

    lengths = [int(x) for x in np.random.default_rng(3).integers(1, 60, 2_000)]
    batches = epoch_batches(lengths, 16, seed=7, epoch=2)
    assert sorted(i for b in batches for i in b) == list(range(2_000))
    assert max(map(len, batches)) == 16 and sum(len(b) < 16 for b in batches) <= 1  # 2,000 = one chunk
    # sorted by length inside each batch, and batches are much tighter than random ones
    assert all(lengths[b[k]] <= lengths[b[k + 1]] for b in batches for k in range(len(b) - 1))
    spread = np.mean([lengths[b[-1]] - lengths[b[0]] for b in batches])
    assert spread < 5  # random batches of 16 from 1..59 spread ~50
    assert epoch_batches(lengths, 16, 7, 2) == batches  # a resumed run replays the epoch
    assert epoch_batches(lengths, 16, 7, 3) != batches and epoch_batches(lengths, 16, 8, 2) != batches
