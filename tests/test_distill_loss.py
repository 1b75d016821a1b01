"""loss=distill (Hinton et al. 2015) against its formula written out example by example."""
import math

import pytest
import torch

from zoo_core.errors import ZooError
from zoo_plugins.losses.distill import DistillLoss, distill_loss, soften


def reference(logits, teacher, target, T, alpha):
    """(1 - alpha) CE(z, y) + alpha T^2 KL(q || s), q_i = p_i^(1/T) / sum_j p_j^(1/T), s = softmax(z / T),
    averaged over the batch, with plain Python loops."""
    total = 0.0
    for z, p, y in zip(logits.tolist(), teacher.tolist(), target.tolist()):
        lse = math.log(sum(math.exp(v) for v in z))
        ce = lse - z[y]
        q = [pi ** (1 / T) for pi in p]
        q = [qi / sum(q) for qi in q]
        lse_t = math.log(sum(math.exp(v / T) for v in z))
        s = [math.exp(v / T - lse_t) for v in z]
        kl = sum(qi * math.log(qi / si) for qi, si in zip(q, s) if qi > 0)
        total += (1 - alpha) * ce + alpha * T * T * kl
    return total / len(target)


@pytest.mark.parametrize("T,alpha", [(1.0, 0.5), (2.0, 0.5), (4.0, 0.9), (3.0, 1.0)])
def test_matches_the_formula(T, alpha):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 7, generator=g, dtype=torch.float64) * 3
    teacher = torch.softmax(torch.randn(5, 7, generator=g, dtype=torch.float64) * 2, -1)
    target = torch.tensor([0, 3, 6, 2, 2])
    got = DistillLoss(temperature=T, alpha=alpha)({"logits": logits, "teacher_probs": teacher}, target)
    assert float(got) == pytest.approx(reference(logits, teacher, target, T, alpha), rel=1e-5)


def test_softened_probabilities_are_the_softmax_at_temperature():
    z = torch.tensor([[2.0, -1.0, 0.5, 4.0]])
    assert torch.allclose(soften(torch.softmax(z, -1), 3.0), torch.softmax(z / 3.0, -1), atol=1e-6)
    # T -> 1 leaves probabilities alone; a one-hot teacher stays one-hot at any T
    p = torch.tensor([[0.7, 0.2, 0.1]])
    assert torch.allclose(soften(p, 1.0), p, atol=1e-6)
    assert torch.allclose(soften(torch.tensor([[0.0, 1.0, 0.0]]), 5.0), torch.tensor([[0.0, 1.0, 0.0]]), atol=1e-6)


def test_alpha_zero_is_cross_entropy_and_a_matching_student_has_no_soft_loss():
    z = torch.tensor([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]])
    y = torch.tensor([1, 0])
    teacher = torch.softmax(torch.randn(2, 3), -1)
    assert torch.allclose(distill_loss(z, teacher, y, 2.0, 0.0), torch.nn.functional.cross_entropy(z, y))
    assert float(distill_loss(z, torch.softmax(z, -1), y, 4.0, 1.0)) == pytest.approx(0.0, abs=1e-6)


def test_the_soft_term_pulls_the_student_toward_the_teacher():
    z = torch.zeros(1, 3, requires_grad=True)
    teacher = torch.tensor([[0.6, 0.3, 0.1]])
    distill_loss(z, teacher, torch.tensor([0]), 2.0, 1.0).backward()
    # the gradient lowers the logit of the class the teacher likes most, raises the least liked
    assert z.grad[0, 0] < 0 < z.grad[0, 2]


def test_bad_input_names_the_fix():
    loss = DistillLoss()
    with pytest.raises(ZooError, match="needs a teacher: set loss.teacher=MODEL"):
        loss({"logits": torch.zeros(2, 3)}, torch.tensor([0, 1]))
    with pytest.raises(ZooError, match="same classes"):
        loss({"logits": torch.zeros(2, 3), "teacher_probs": torch.full((2, 4), 0.25)}, torch.tensor([0, 1]))


def test_registered_and_built_from_its_config():
    import zoo_core

    loss = zoo_core.create("loss", "distill", temperature=3.0, alpha=0.25)
    assert (loss.temperature, loss.alpha) == (3.0, 0.25)
    with pytest.raises(Exception, match="alpha"):
        zoo_core.create("loss", "distill", alpha=1.5)


BASE = ["data.options.words_per_language=150", "data.options.languages=[en,de,fi]", "train.epochs=4",
        "train.plots=false", "train.batch_size=32", "threads=1", "seed=0"]


def _fit(path, *extra):
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer

    return Trainer(compose([*BASE, *extra]), path, progress=False).fit()


def test_zoo_train_distils_from_a_saved_teacher_model_by_label_name(tmp_path):
    """loss.teacher=MODEL: the classification task scores every training text with the saved
    teacher once and the loss reads each example's row. A teacher trained with the en and de
    labels swapped teaches that swap to a student trained on the soft targets alone (alpha=1),
    while the hard labels alone (alpha=0) teach the truth."""
    from helpers import write_tsv
    from zoo_plugins.datasets.langid import load

    splits = load(seed=0, words_per_language=150, languages=["en", "de", "fi"])
    swap = {"en": "de", "de": "en", "fi": "fi"}
    rows = [(t, swap[y]) for part in (splits.train, splits.valid) for t, y in zip(part.texts, part.labels)]
    teacher = tmp_path / "teacher"
    _fit(teacher, f"data={write_tsv(tmp_path / 'swapped.tsv', rows)}")
    soft = _fit(tmp_path / "soft", "loss=distill", f"loss.teacher={teacher}", "loss.alpha=1", "loss.temperature=1")
    hard = _fit(tmp_path / "hard", "loss=distill", f"loss.teacher={teacher}", "loss.alpha=0")
    assert hard.best["accuracy"] > 0.7  # 3 classes: chance is 1/3
    assert soft.best["accuracy"] < hard.best["accuracy"] - 0.2
    import zoo_core

    student = zoo_core.load(tmp_path / "soft")  # its en and de words answered the teacher's (swapped) way
    pairs = [(t, y) for t, y in zip(splits.valid.texts, splits.valid.labels) if y != "fi"]
    got = [row["label"] for row in student.predict([t for t, _ in pairs])]
    swapped = sum(g == swap[y] for g, (_, y) in zip(got, pairs))
    assert swapped > 2 * sum(g == y for g, (_, y) in zip(got, pairs))


def test_a_teacher_with_other_classes_or_none_is_a_one_line_error(tmp_path):
    teacher = tmp_path / "teacher"
    _fit(teacher, "data.options.languages=[en,de,es]", "train.epochs=1")
    with pytest.raises(ZooError, match=r"loss.teacher=.*classes differ .*missing \['fi'\], extra \['es'\].*same classes"):
        _fit(tmp_path / "student", "loss=distill", f"loss.teacher={teacher}")
    with pytest.raises(ZooError, match="loss.teacher=MODEL"):
        _fit(tmp_path / "none", "loss=distill", "train.epochs=1")
