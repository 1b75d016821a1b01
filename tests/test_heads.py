"""The output layer as a component kind (``head``): old checkpoints load unchanged, and each
head against its formulas written out by hand (centroid against torchhd too)."""
import json
from pathlib import Path

import pytest
import torch

from zoo_core import factory
from zoo_core.model import ZooModel, build
from zoo_core.overrides import compose, to_overrides

FIXTURE = Path(__file__).parent / "fixtures" / "checkpoint_before_heads"
SMALL = ["embed=hash", "embed.num_bits=64", "embed.num_hashes=2", "mixer=[]", "pool=mean", "loss=cross_entropy",
         "optim=adam", "dim=8", "num_classes=3", "tokenizer.unit=chars"]


def make_head(name, in_dim=4, num_classes=3, **config):
    return factory.build(factory.resolve("head", name, config), context={"in_dim": in_dim, "num_classes": num_classes})


def test_a_checkpoint_saved_before_heads_loads_unchanged(tmp_path):
    """Saved by main before this change (the fixture's README says how): no head in its spec,
    the linear layer stored as head.weight/head.bias; same logits, and it saves again."""
    config = json.loads((FIXTURE / "config.json").read_text())
    assert "head" not in config["spec"]["model"]
    model = ZooModel.from_pretrained(FIXTURE)
    assert model.spec.head is None and type(model.head).__name__ == "LinearHead"
    expected = json.loads((FIXTURE / "expected_logits.json").read_text())
    with torch.no_grad():
        logits = model(model.encode([list(t) for t in expected["tokens"]]))["logits"]
    torch.testing.assert_close(logits, torch.tensor(expected["logits"]))
    again = ZooModel.from_pretrained(model.save_pretrained(tmp_path / "again"))
    torch.testing.assert_close(again.head.weight, model.head.weight)
    assert not any(o.startswith("head=") for o in to_overrides(model.run))


def test_the_default_head_is_linear_and_is_named_in_the_overrides():
    run = compose(SMALL)
    assert (run.model.head.kind, run.model.head.name) == ("head", "linear")
    assert "head=linear" in to_overrides(run)
    assert compose(to_overrides(compose([*SMALL, "head=kernel_knn", "head.k=3"]))).model.head.config["k"] == 3


def test_a_seeded_linear_model_keeps_its_weights():
    """The head is built where the linear layer was, so seeded weights are unchanged."""
    model = ZooModel.from_pretrained(FIXTURE)
    fresh = build([*SMALL, "seed=3", "embed.init_scale=1"])  # the fixture predates the default's 0.01
    for key, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value, msg=key)


def test_centroid_bundles_then_retrains_on_the_misclassified_like_torchhd():
    torchhd = pytest.importorskip("torchhd")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 16, generator=g), torch.randint(0, 3, (40,), generator=g)
    head = make_head("centroid", in_dim=16, similarity="cosine", retrain_epochs=2, lr=0.5, batch_size=8, probe=False)
    head.refit(x, y)
    ref = torchhd.models.Centroid(16, 3)
    ref.add(x, y)
    for _ in range(2):
        for s in range(0, 40, 8):
            ref.add_adapt(x[s:s + 8], y[s:s + 8], lr=0.5)
    torch.testing.assert_close(head.classes, ref.weight.data)
    torch.testing.assert_close(head(x), ref(x))


def test_centroid_by_hand_with_hamming():
    x = torch.tensor([[1.0, -2, 3, 1], [2.0, -1, 1, 1], [-1.0, 1, -1, -2]])
    y = torch.tensor([0, 0, 1])
    head = make_head("centroid", similarity="hamming", retrain_epochs=0, num_classes=2, probe=False)
    head.refit(x, y)
    torch.testing.assert_close(head.classes, torch.tensor([[3.0, -3, 4, 2], [-1.0, 1, -1, -2]]))
    q = torch.tensor([[1.0, 1, 1, 1]])  # agrees with class 0 in 3 of 4 signs, class 1 in 1 of 4
    torch.testing.assert_close(head(q), torch.tensor([[0.75, 0.25]]))


@pytest.mark.parametrize("kernel,k", [("cosine", 2), ("cosine", 0), ("rbf", 3)])
def test_kernel_knn_against_the_written_out_sum(kernel, k):
    g = torch.Generator().manual_seed(1)
    keys, labels = torch.randn(6, 4, generator=g), torch.tensor([0, 1, 2, 0, 1, 1])
    head = make_head("kernel_knn", kernel=kernel, k=k, temperature=0.5, gamma=0.3, memory=8, probe=False)
    head.refit(keys, labels)
    q = torch.randn(2, 4, generator=g)
    expect = torch.zeros(2, 3)
    for b in range(2):
        kv = []
        for i in range(6):
            if kernel == "cosine":
                kv.append(float(torch.exp(torch.nn.functional.cosine_similarity(q[b], keys[i], dim=0) / 0.5)))
            else:
                kv.append(float(torch.exp(-0.3 * ((q[b] - keys[i]) ** 2).sum())))
        chosen = sorted(range(6), key=lambda i: -kv[i])[:k] if k else range(6)
        for i in chosen:
            expect[b, labels[i]] += kv[i]
    expect = expect / expect.sum(-1, keepdim=True)
    torch.testing.assert_close(head(q).exp(), expect, atol=1e-5, rtol=1e-4)
    assert int(head.count) == 6 and head.keys[6:].abs().sum() == 0


def _gln_by_hand(z, targets, normals, offsets, w1, w2, lr, eps, clip, scale=1.0):
    """One class, one hidden neuron layer of 2 and one output neuron, context_bits=1,
    examples one at a time: the paper's equations with Python floats."""
    import math

    sig = lambda a: 1 / (1 + math.exp(-a))  # noqa: E731
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    cl = lambda p: min(max(p, eps), 1 - eps)  # noqa: E731
    outs = []
    for zi, yi in zip(z, targets):
        zl = zi.tolist()
        m, sd = sum(zl) / len(zl), float(zi.std())
        s = [(v - m) / sd for v in zl]
        x0 = [1.0] + [logit(cl(sig(scale * v))) for v in zl]
        ctx = lambda layer, j: int(sum(a * b for a, b in zip(normals[layer][j], s)) > offsets[layer][j])  # noqa: E731
        c1 = [ctx(0, j) for j in range(2)]
        p1 = [cl(sig(sum(a * b for a, b in zip(w1[j][c1[j]], x0)))) for j in range(2)]
        x1 = [1.0] + [logit(p) for p in p1]
        c2 = ctx(1, 0)
        p2 = cl(sig(sum(a * b for a, b in zip(w2[c2], x1))))
        outs.append(logit(p2))
        for j in range(2):
            w1[j][c1[j]] = [max(-clip, min(clip, w - lr * (p1[j] - yi) * xv)) for w, xv in zip(w1[j][c1[j]], x0)]
        w2[c2] = [max(-clip, min(clip, w - lr * (p2 - yi) * xv)) for w, xv in zip(w2[c2], x1)]
    return outs, w1, w2


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_gated_linear_mixing_and_update_rule_by_hand_for_a_few_steps(scale):
    head = make_head("gated_linear", in_dim=3, num_classes=1, layers=[2], context_bits=1, lr=0.3, eps=0.01,
                     weight_clip=0.8, seed=2, probe=False, input_scale=scale)
    normals = [head.normals0[0, :, 0].tolist(), head.normals1[0, :, 0].tolist()]
    offsets = [head.offsets0[0, :, 0].tolist(), head.offsets1[0, :, 0].tolist()]
    w1 = [[row.tolist() for row in head.weights0[0, j]] for j in range(2)]
    w2 = [row.tolist() for row in head.weights1[0, 0]]
    z = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.2, -0.3], [-2.0, 1.0, 0.1], [0.3, 0.4, -1.2]])
    targets = [0, 0, 0, 0]  # num_classes=1: class 0 is the positive class of every example
    outs, w1, w2 = _gln_by_hand(z, [1, 1, 1, 1], normals, offsets, w1, w2, lr=0.3, eps=0.01, clip=0.8, scale=scale)
    got = []
    for i in range(4):
        got.append(float(head(z[i:i + 1])[0, 0]))
        head.update(z[i:i + 1], torch.tensor([targets[i]]))
    assert got == pytest.approx(outs, abs=1e-5)
    torch.testing.assert_close(head.weights0[0], torch.tensor(w1))
    torch.testing.assert_close(head.weights1[0, 0], torch.tensor(w2))
    assert float(head(z[:1])[0, 0]) > got[0]  # learnt towards the positive class
    assert head.weights1.abs().max() <= 0.8


def test_heads_with_stored_state_save_in_safetensors_and_reload(tmp_path):
    for name in ("centroid", "kernel_knn", "gated_linear"):
        model = build([*SMALL, f"head={name}"])
        model.labels = ["de", "en", "fr"]  # a trained model's labels are checked against its head's outputs on load
        x = model.encode([list("hallo"), list("hello"), list("salut")])
        with torch.no_grad():
            pooled = model(x)["pooled"]
            model.head.update(pooled, torch.tensor([0, 1, 2]))
            model.head.refit(pooled, torch.tensor([0, 1, 2]))
            before = model.eval()(x)["logits"]
        loaded = ZooModel.from_pretrained(model.save_pretrained(tmp_path / name))
        with torch.no_grad():
            torch.testing.assert_close(loaded(x)["logits"], before)
        assert not list((tmp_path / name).glob("*.pt")) and not list((tmp_path / name).glob("*.pkl"))


def test_a_head_is_described_by_zoo_info_with_its_citation():
    import zoo_core

    for name in ("linear", "centroid", "kernel_knn", "gated_linear"):
        comp = zoo_core.info(f"head:{name}")
        assert comp.post and comp.paper, name
    assert "1910.01526" in zoo_core.info("head:gated_linear").paper


@pytest.mark.parametrize("name", ["centroid", "kernel_knn", "gated_linear"])
def test_a_local_rule_head_trains_the_features_through_its_probe_or_not_at_all(name):
    model = build([*SMALL, f"head={name}"]).train()
    assert isinstance(model.head.probe, torch.nn.Linear)
    x = model.encode([list("hallo"), list("hello"), list("salut")])
    out = model(x)
    model.objective(out, torch.tensor([0, 1, 2])).backward()
    assert model.embed.weight.grad is not None and model.embed.weight.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in model.head.named_parameters() if not n.startswith("probe"))
    frozen = build([*SMALL, f"head={name}", "head.probe=false"]).train()
    assert frozen.head.probe is None and not frozen.objective(frozen(x), torch.tensor([0, 1, 2])).requires_grad


@pytest.mark.parametrize("name", ["centroid", "kernel_knn", "gated_linear"])
def test_the_bag_path_trains_the_features_through_the_probe_like_the_padded_path(name):
    # the EmbeddingBag fast path (bag models: no mixer, mean pooling) once gave a local-rule
    # head's own scores to the loss and no probe logits: the probe never trained and the
    # features learnt through the head's scores (language ID: centroid 0.47, GLN 0.32 instead
    # of 0.65 and 0.48)
    from zoo_core.bag import bag_capable
    from zoo_core.batches import featurize_texts

    model = build([*SMALL, f"head={name}"])
    assert bag_capable(model)
    texts, target = ["hallo", "hello", "salut", "a"], torch.tensor([0, 1, 2, 0])
    with torch.no_grad():  # give the local-rule head some state, so its scores are not all equal
        pooled = model(featurize_texts(model, texts, bag=False).encode(range(4)))["pooled"]
        model.head.update(pooled, target)
        model.head.refit(pooled, target)
    model.eval()
    outs = [model(featurize_texts(model, texts, bag=bag).encode(range(4))) for bag in (True, False)]
    for key in ("pooled", "logits", "probe_logits"):
        torch.testing.assert_close(outs[0][key], outs[1][key])
    loss = model.objective(outs[0], target)
    loss.backward()
    assert model.head.probe.weight.grad is not None and model.head.probe.weight.grad.abs().sum() > 0
    assert not outs[0]["logits"].requires_grad  # nothing flows back through the head's own scores
