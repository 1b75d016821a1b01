"""DINO self-distillation (task=self_distill, loss=dino): the loss against Algorithm 1 written
out by hand, the centre update, the teacher's EMA and its lack of gradient, the token-crop
views (padding on both sides), collapse detection, and a short real run whose checkpoint loads."""
import math

import pytest
import torch

from zoo_core.errors import ZooError
from zoo_core.model import ZooModel, build
from zoo_core.overrides import compose
from zoo_core.tasks import get_task
from zoo_core.train.loop import Trainer
from zoo_plugins.losses.dino import DinoLoss, collapse_verdict, output_entropies, pooled_conicity
from zoo_plugins.tasks.self_distill import crop_views, ema_update, teacher_momentum

SMALL = ["task=self_distill", "loss=dino", "loss.out_dim=16", "loss.hidden_dim=8", "loss.bottleneck_dim=4",
         "dim=8", "mixer=identity", "embed=hash", "embed.num_bits=10"]


def by_hand(student, teacher, center, t_temp, s_temp):
    """Algorithm 1 (multi-crop form) with Python loops and math.exp only."""
    vs, b, k = student.shape
    vt = teacher.shape[0]
    total, pairs = 0.0, 0
    for i in range(vt):
        for v in range(vs):
            if v == i:  # never the same view
                continue
            per = 0.0
            for n in range(b):
                t = [math.exp((teacher[i, n, j].item() - center[j].item()) / t_temp) for j in range(k)]
                s = [math.exp(student[v, n, j].item() / s_temp) for j in range(k)]
                zt, zs = sum(t), sum(s)
                per += -sum(t[j] / zt * math.log(s[j] / zs) for j in range(k))
            total += per / b
            pairs += 1
    return total / pairs


def test_dino_loss_is_algorithm_1_by_hand_and_the_centre_follows_the_teacher():
    g = torch.Generator().manual_seed(0)
    loss = DinoLoss(dim=8, out_dim=5, student_temp=0.1, teacher_temp=0.04, center_momentum=0.9)
    loss.center.copy_(torch.randn(5, generator=g) * 0.1)
    c0 = loss.center.clone()
    student, teacher = torch.randn(4, 3, 5, generator=g), torch.randn(2, 3, 5, generator=g)
    got = loss({"dino_student": student, "dino_teacher": teacher})
    assert got.item() == pytest.approx(by_hand(student, teacher, c0, 0.04, 0.1), rel=1e-5)
    # the same-view pairs are left out: counting them gives another value
    with_same = sum(-(torch.softmax((teacher[i] - c0) / 0.04, -1) * torch.log_softmax(student[v] / 0.1, -1)).sum(-1)
                    .mean() for i in range(2) for v in range(4)) / 8
    assert abs(with_same.item() - got.item()) > 1e-3
    # C <- 0.9 C + 0.1 mean over every teacher view and text
    assert torch.allclose(loss.center, 0.9 * c0 + 0.1 * teacher.reshape(-1, 5).mean(0), atol=1e-6)
    loss.eval()  # evaluation leaves the centre alone
    loss({"dino_student": student, "dino_teacher": teacher})
    assert torch.allclose(loss.center, 0.9 * c0 + 0.1 * teacher.reshape(-1, 5).mean(0), atol=1e-6)


def test_teacher_temperature_warms_up_and_the_gradient_reaches_only_the_student():
    loss = DinoLoss(dim=8, out_dim=5, teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_share=0.5)
    assert [loss.teacher_temperature(p) for p in (0.0, 0.25, 0.5, 1.0)] == pytest.approx([0.04, 0.055, 0.07, 0.07])
    student = torch.randn(3, 2, 5, requires_grad=True)
    teacher = torch.randn(2, 2, 5, requires_grad=True)
    loss({"dino_student": student, "dino_teacher": teacher, "progress": 0.1}).backward()
    assert student.grad is not None and teacher.grad is None
    with pytest.raises(ZooError, match="task=self_distill"):
        loss({"pooled": torch.zeros(2, 8)})


def test_projection_head_is_mlp_then_l2_bottleneck_then_weight_normalised_layer():
    head = DinoLoss(dim=8, out_dim=6, hidden_dim=7, bottleneck_dim=4).project
    x = torch.randn(3, 8)
    z = torch.nn.functional.normalize(head.mlp(x), dim=-1)
    w = head.last_v / head.last_v.norm(dim=1, keepdim=True)
    assert torch.allclose(head(x), z @ w.T, atol=1e-6)
    assert "last_g" in dict(head.named_buffers())  # norm_last_layer: g fixed at 1, not trained


def ids_batch():
    # real tokens are 10, 11, ... in order; padding (0) on the left of row 0, on both sides of
    # row 1, on the right of row 2; row 3 has one token
    ids = torch.tensor([[0, 0, 10, 11, 12, 13, 14, 15],
                        [0, 20, 21, 22, 23, 24, 0, 0],
                        [30, 31, 32, 33, 34, 35, 36, 37],
                        [0, 0, 0, 40, 0, 0, 0, 0]])
    return {"ids": ids, "chars": torch.stack([ids, ids * 2], -1), "mask": ids != 0}


@pytest.mark.parametrize("low,high", [(0.5, 1.0), (0.15, 0.5)])
def test_crops_are_contiguous_runs_of_real_tokens_with_padding_on_both_sides(low, high):
    inputs = ids_batch()
    lengths = inputs["mask"].sum(1).repeat(3)
    g = torch.Generator().manual_seed(1)
    out = crop_views(inputs, 3, low, high, drop=0.0, generator=g)
    assert out["ids"].shape[0] == 12 and out["mask"].shape == out["ids"].shape
    assert torch.equal(out["chars"][..., 1], out["ids"] * 2)  # every per-token tensor is cut the same way
    for row, (ids, keep, n) in enumerate(zip(out["ids"], out["mask"], lengths.tolist())):
        got = ids[keep].tolist()
        assert keep[:len(got)].all()  # right-padded: the crop starts at position 0
        assert got == list(range(got[0], got[0] + len(got)))  # contiguous, in order
        assert got[0] // 10 == [1, 2, 3, 4][row % 4] and got[-1] % 10 < n  # inside its own text's real tokens
        assert max(1, round(low * n)) <= len(got) <= max(1, round(high * n))
    assert out["ids"][3][out["mask"][3]].tolist() == [40]  # one token: the view is that token


def test_token_dropout_never_empties_a_view_and_bad_inputs_are_refused():
    out = crop_views(ids_batch(), 4, 0.5, 1.0, drop=0.9, generator=torch.Generator().manual_seed(0))
    assert out["mask"].any(1).all()
    with pytest.raises(ZooError, match="not per token"):
        crop_views({**ids_batch(), "offsets": torch.tensor([0, 3])}, 2, 0.5, 1.0, 0.0)


def tiny_model():
    model = build(SMALL + ["seed=0"])
    model.labels, model.spec.num_classes = ["a", "b"], 2
    return model


def test_ema_teacher_follows_the_formula_and_gets_no_gradient():
    model = tiny_model()
    task = get_task("self_distill:local_crops=2")
    teacher = task.make_teacher(model)
    assert teacher.head is None and model.head is not None
    before = {n: p.detach().clone() for n, p in teacher.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    student = dict(model.named_parameters())
    ema_update(teacher, model, 0.9)
    for n, p in teacher.named_parameters():
        assert torch.allclose(p, 0.9 * before[n] + 0.1 * student[n], atol=1e-6), n
    # a training step: the student's parameters get gradients, the teacher's none
    tokens = [["ab", "bc", "cd", "de"], ["x", "y"], ["p", "q", "r"]]
    inputs = model.encode(tokens)
    model.train()
    out = task.forward(model, model, inputs)
    assert out["dino_student"].shape == (4, 3, 16) and out["dino_teacher"].shape == (2, 3, 16)
    task.loss(model, out, torch.tensor([0, 1, 0]), [0, 1, 2]).backward()
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    assert model.loss.project.last_v.grad is not None and model.embed.weight.grad is not None
    # the probe learns from labels on detached features: the head's loss alone leaves the encoder untouched
    model.zero_grad(set_to_none=True)
    out = task.forward(model, model, inputs)
    torch.nn.functional.cross_entropy(out["logits"], torch.tensor([0, 1, 0])).backward()
    assert model.embed.weight.grad is None and model.head.weight.grad is not None


def test_teacher_momentum_is_cosine_from_base_to_one():
    assert teacher_momentum(0, 100, 0.996) == pytest.approx(0.996)
    assert teacher_momentum(50, 100, 0.996) == pytest.approx(0.998)
    assert teacher_momentum(100, 100, 0.996) == pytest.approx(1.0)


def test_collapse_is_detected_for_constant_outputs_in_both_modes():
    k = 8
    one_dim = torch.zeros(10, k)
    one_dim[:, 3] = 1.0
    uniform = torch.full((10, k), 1.0 / k)
    healthy = torch.eye(k)
    spread = torch.randn(10, 16)
    for probs, mode in ((one_dim, "one dimension dominates"), (uniform, "uniform output")):
        collapsed, verdict = collapse_verdict(output_entropies(probs), pooled_conicity(spread))
        assert collapsed and mode in verdict
    e = output_entropies(healthy)
    assert e["entropy"] == pytest.approx(0.0, abs=1e-5) and e["entropy_of_mean"] == pytest.approx(math.log(k))
    assert not collapse_verdict(e, pooled_conicity(spread))[0]
    constant = torch.ones(10, 16) + 1e-4 * torch.randn(10, 16)  # the same pooled vector for every input
    assert pooled_conicity(constant) > 0.99
    assert collapse_verdict(e, pooled_conicity(constant))[0]


def test_a_short_run_writes_a_checkpoint_that_loads_and_scores(tmp_path):
    run = compose(SMALL + ["data=wordfreq_langid", "data.options.words_per_language=60",
                           "data.options.languages=[en,de,fi]", "tokenizer.unit=char_ngrams", "train.epochs=1",
                           "train.plots=false", "train.batch_size=32", "threads=1", "head=kernel_knn",
                           "head.memory=512", "task=self_distill:local_crops=2"])
    trainer = Trainer(run, tmp_path / "run", progress=False)
    result = trainer.fit()
    assert result.steps >= 3 and set(result.test) >= {"accuracy", "teacher_accuracy", "entropy", "conicity"}
    assert 0 <= result.test["accuracy"] <= 1 and result.test["collapsed"] in (0.0, 1.0)
    teacher = trainer.task.teacher
    assert not torch.equal(teacher.embed.weight, trainer.model.embed.weight)  # EMA: near, not equal
    loaded = ZooModel.from_pretrained(tmp_path / "run")
    assert torch.equal(loaded.loss.center, trainer.model.loss.center) and int(loaded.head.count) > 0
    texts = ["hello", "welt", "kiitos"]
    assert [p["label"] for p in loaded.predict(texts)] == [p["label"] for p in trainer.model.predict(texts)]


def test_self_distill_needs_the_dino_loss():
    with pytest.raises(ZooError, match="needs loss=dino"):
        get_task("self_distill").make_teacher(build(["dim=8", "mixer=identity"]))
    with pytest.raises(ZooError, match="at least 2 views"):
        get_task("self_distill:global_crops=1,local_crops=0")


def test_the_task_and_doctor_report_a_constant_output_as_collapsed():
    from types import SimpleNamespace

    from zoo_tools.doctor import check_collapse

    model = tiny_model()
    task = get_task("self_distill")
    tokens = [["ab", "bc", "cd"], ["x", "y"], ["p", "q", "r"], ["zz"]]
    inputs = model.encode(tokens)
    assert not task.collapse_report(model, inputs)["collapsed"]
    last = [m for m in model.loss.project.mlp if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():  # every text now gets the same bottleneck vector, so the same output
        last.weight.zero_()
        last.bias.normal_()
    task.teacher = None
    report = task.collapse_report(model, inputs)
    assert report["collapsed"] and "same distribution" in report["verdict"]
    assert report["teacher"]["entropy_of_mean"] == pytest.approx(report["teacher"]["entropy"], abs=1e-4)
    trainer = SimpleNamespace(task=task, model=model, device=torch.device("cpu"), train_tokens=tokens,
                              train_y=[0, 1, 0, 1])
    patient = SimpleNamespace(trainer=trainer, model=model, probe=[0, 1, 2, 3],
                              inputs_for=lambda idx: (model.encode([tokens[i] for i in idx]), None))
    check = check_collapse(patient)
    assert check.status == "warn" and "collapsed" in check.value


def test_an_interrupted_and_resumed_run_continues_with_its_teacher(tmp_path):
    """The EMA teacher is part of the resume state: a run cut mid-way and resumed ends with the
    same student and teacher as an uninterrupted one (a fresh copy of the student would not)."""
    from safetensors.torch import load_file

    run = compose(SMALL + ["data=wordfreq_langid", "data.options.words_per_language=40",
                           "data.options.languages=[en,de]", "tokenizer.unit=chars", "train.epochs=2",
                           "train.plots=false", "train.batch_size=16", "threads=1", "train.keep_state=true",
                           "train.save_every=0", "task=self_distill:local_crops=1"])

    def fit(name, **kw):
        resume = kw.pop("resume", False)
        trainer = Trainer(run, tmp_path / name, progress=False, **kw)
        return trainer, trainer.fit(resume=resume)

    _, done = fit("full")
    _, cut = fit("cut", max_steps=done.steps // 2 + 1)
    assert cut.stopped == "max_steps"
    saved = load_file(str(tmp_path / "cut" / "training_state" / "state.safetensors"))
    assert any(k.startswith("task.teacher.") for k in saved)
    _, result = fit("cut", resume=True)
    assert result.steps == done.steps
    last = lambda name: load_file(str(tmp_path / name / "training_state" / "state.safetensors"))  # noqa: E731
    a, b = last("full"), last("cut")
    weights = [k for k in a if k.startswith(("model.", "task.teacher."))]
    assert any(k.startswith("task.teacher.") for k in weights) and a.keys() == b.keys()
    assert [k for k in weights if not torch.equal(a[k], b[k])] == []
