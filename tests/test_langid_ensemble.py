"""benchmarks/langid_ensemble.py and benchmarks/_charlm.py: the character LM is a proper
distribution with the discounting formula, combinations average what they say, and a
distilled member's loss sees the teacher's rows of its own batch."""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def ens(monkeypatch):
    monkeypatch.setattr(sys, "path", [str(BENCH), *sys.path])  # the script imports _timing, langid, _charlm
    spec = importlib.util.spec_from_file_location("bench_langid_ensemble", BENCH / "langid_ensemble.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def charlm(ens):
    import _charlm

    return _charlm


WORDS = ["abc", "abd", "abba", "xyz", "xyy", "zyx"]
LANGS = ["a", "a", "a", "b", "b", "b"]


def test_charlm_conditionals_sum_to_one_over_the_alphabet(charlm):
    lm = charlm.CharLM(order=3).fit(WORDS, LANGS)
    alphabet = sorted(set("".join(WORDS)) | {charlm.END}) + ["\u2603"]  # + an unseen character
    for lang in ("a", "b"):
        for history in ["", "a", "ab", "zq", charlm.START * 2, charlm.START + "x"]:
            total = sum(lm._prob[lang](history, c) for c in alphabet)
            assert total == pytest.approx(1.0, abs=1e-12), (lang, history)


def test_charlm_matches_absolute_discounting_by_hand(charlm):
    D = 0.5
    lm = charlm.CharLM(order=2, discount=D).fit(["aab"], ["x"])
    # alphabet {a, b, END} + 1 unseen -> uniform 1/4; unigram counts a:2 b:1 END:1 (4 tokens, 3 distinct)
    p_uni_b = (1 - D) / 4 + D * 3 / 4 * 0.25
    # after 'a': seen a:1, b:1 (2 tokens, 2 distinct)
    p_b_after_a = (1 - D) / 2 + D * 2 / 2 * p_uni_b
    assert lm._prob["x"]("a", "b") == pytest.approx(p_b_after_a)
    # after an unseen history the model backs off entirely
    assert lm._prob["x"]("q", "b") == pytest.approx(p_uni_b)
    # a word's likelihood is the chain rule, end mark included
    start = charlm.START
    expected = sum(math.log(lm._prob["x"](h, c)) for h, c in [(start, "a"), ("a", "b"), ("b", charlm.END)])
    assert lm.log_likelihood("AB", "x") == pytest.approx(expected)  # lower-cased


def test_charlm_classifies_and_gives_probabilities(charlm):
    lm = charlm.CharLM(order=3).fit(WORDS, LANGS)
    probs = lm.predict_proba(["abab", "yzx"])
    assert np.allclose(probs.sum(1), 1) and list(lm.classes_[probs.argmax(1)]) == ["a", "b"]
    with pytest.raises(ValueError, match="order"):
        charlm.CharLM(order=0)


def test_combinations_weigh_members_and_log_terms(ens):
    members = {"p": {"valid": np.array([[0.6, 0.4], [0.2, 0.8]])}, "q": {"valid": np.array([[0.1, 0.9], [0.5, 0.5]])}}
    combo = ens.parse_combination("p*3+q")
    assert combo == [("p", 3.0), ("q", 1.0)]
    assert np.allclose(ens.average(members, combo, "valid"), (3 * members["p"]["valid"] + members["q"]["valid"]) / 4)
    logs = ens.average(members, ens.parse_combination("log:p+log:q"), "valid")
    assert np.allclose(logs, (np.log(members["p"]["valid"]) + np.log(members["q"]["valid"])) / 2)


def test_teacher_combination_gives_probabilities_of_the_training_words(ens):
    train = {"p": np.array([[0.9, 0.1], [0.3, 0.7]]), "q": np.array([[0.5, 0.5], [0.1, 0.9]])}
    members = {k: {"train": v} for k, v in train.items()}
    specs = {"p": "", "q": "embed.seed=1"}
    rest, key, probs = ens.teacher_of("loss=distill teacher=log:p+log:q", members, specs)
    assert rest == "loss=distill" and "embed.seed=1" in key
    geo = np.sqrt(train["p"] * train["q"])
    assert np.allclose(probs, geo / geo.sum(1, keepdims=True))  # normalised geometric mean
    assert ens.teacher_of("loss=distill", members, specs) == ("loss=distill", "", None)
    with pytest.raises(SystemExit, match="no earlier member"):
        ens.teacher_of("teacher=p+r", members, specs)


def test_distilling_task_hands_the_loss_its_batch_rows(ens):
    seen = {}

    class Task:
        def loss(self, model, outputs, target, idx):
            seen["rows"] = outputs["teacher_probs"]
            return torch.zeros(())

    teacher = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    task = ens.distilling(Task(), teacher)
    task.loss(None, {"logits": torch.zeros(3, 2)}, torch.zeros(3, dtype=torch.long), [4, 0, 2])
    assert torch.equal(seen["rows"], teacher[[4, 0, 2]])


def test_out_of_fold_probabilities_come_from_models_that_never_saw_the_word(ens):
    from zoo_core.data import DatasetSplits, Examples

    words = [f"w{i}" for i in range(23)]
    splits = DatasetSplits(train=Examples(words, ["a", "b"] * 11 + ["a"]), valid=Examples(["v"], ["a"]))
    fits = []

    def fit(part):
        fits.append(part)
        assert part.valid is splits.valid  # validation still picks the fold model's epoch
        seen = set(part.train.texts)
        # column 0: was this held-out word in the fold model's training words? column 1: its index
        return {"test": np.array([[t in seen, int(t[1:])] for t in part.test.texts], dtype=float), "cpu": 1.5}

    probs, cpu = ens.out_of_fold(splits, fit, k=5, seed=0)
    assert len(fits) == 5 and cpu == 7.5
    assert not probs[:, 0].any()  # no word was scored by a model trained on it
    assert list(probs[:, 1]) == list(range(23))  # every word scored once, in training order
    assert sorted(sum((f.test.texts for f in fits), [])) == sorted(words)


def test_summary_compares_each_seed_with_the_reference(ens):
    import argparse

    scores = {("a", 0): (0.80, 0.70, 10.0), ("a", 1): (0.81, 0.75, 12.0),
              ("svm", 0): (0.79, 0.71, 5.0), ("svm", 1): (0.80, 0.73, 5.0)}
    lines = ens.summary(scores, argparse.Namespace(seeds=[0, 1], reference="svm", test=True))
    row = next(line for line in lines if line.startswith("| a |"))
    # valid +1 and +1 points; test -1 and +2 points: mean +0.50, min -1.00, ahead on one seed of two
    assert "| 0.8050 | 0.7250 | 0.7000 - 0.7500 | 11.0 | +1.00; +1.00 | 2 of 2 | +0.50; -1.00 | 1 of 2 |" in row


def test_a_distilled_member_learns_what_its_teacher_says(ens):
    """Through the real trainer: with alpha=1 only the teacher's probabilities train the bag, so a
    teacher that names the other language for every word is what the student learns."""
    import random

    from zoo_core.data import DatasetSplits, Examples

    rng = random.Random(0)
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 7)))
             for letters in ("ab", "xy") for _ in range(60)]
    labels = ["a"] * 60 + ["b"] * 60
    splits = DatasetSplits(train=Examples(words, labels), valid=Examples(["abba", "xyyx"], ["a", "b"]),
                           test=Examples(["baab", "yxxy"], ["a", "b"]))
    swapped = np.array([[0.0, 1.0] if y == "a" else [1.0, 0.0] for y in labels])  # classes in sorted order
    base = ["threads=1", "train.plots=false", "train.epochs=4", "embed.num_bits=4096", "seed=0"]
    honest = ens.train_zoo(splits, base, parts=("train",))
    taught = ens.train_zoo(splits, base + ["loss=distill", "loss.alpha=1", "loss.temperature=1"], swapped,
                           parts=("train",))
    gold = np.array([0 if y == "a" else 1 for y in labels])
    assert (honest["train"].argmax(1) == gold).mean() > 0.9
    assert (taught["train"].argmax(1) == 1 - gold).mean() > 0.9
