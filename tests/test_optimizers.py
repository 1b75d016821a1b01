"""SMORMS3 against a hand computation of Funk's equations; weight-decay groups."""
import json
import math

import pytest
import torch

import zoo_core
from zoo_plugins.optimizers.groups import param_groups
from zoo_plugins.optimizers.smorms3 import SMORMS3


def reference_smorms3(p, grads, lr, eps=1e-16):
    """Funk's equations, scalar by scalar, in plain Python floats."""
    mem, g, g2 = 1.0, 0.0, 0.0
    out = []
    for grad in grads:
        r = 1.0 / (mem + 1.0)
        g = (1 - r) * g + r * grad
        g2 = (1 - r) * g2 + r * grad * grad
        x = g * g / (g2 + eps)
        p = p - grad * min(lr, x) / (math.sqrt(g2) + eps)
        mem = 1 + mem * (1 - x)
        out.append(p)
    return out


def test_smorms3_matches_hand_computed_steps():
    grads = [0.5, -0.2, 0.3, 0.3, -1.0, 0.05]
    lr = 0.01
    w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = SMORMS3([w], lr=lr)
    expected = reference_smorms3(1.0, grads, lr)
    for grad, want in zip(grads, expected):
        w.grad = torch.tensor([grad], dtype=torch.float64)
        opt.step()
        assert w.item() == pytest.approx(want, rel=1e-12, abs=1e-15)
    # by hand, step one: mem = 1 so r = 1/2, g = grad/2, g2 = grad²/2, x = 1/2;
    # the move is grad * min(lr, 1/2) / sqrt(grad²/2) = lr * sqrt(2)
    assert expected[0] == pytest.approx(1.0 - lr * math.sqrt(2))


def test_smorms3_updates_every_weight_of_every_group_by_the_equations():
    """Several parameters in two groups (one with L2 weight decay), updated together: each
    weight follows Funk's scalar equations with its own gradient (plus wd * weight)."""
    g = torch.Generator().manual_seed(0)
    a = torch.nn.Parameter(torch.randn(2, 3, generator=g, dtype=torch.float64))
    b = torch.nn.Parameter(torch.randn(4, generator=g, dtype=torch.float64))
    opt = SMORMS3([{"params": [a], "weight_decay": 0.1}, {"params": [b]}], lr=0.02)
    start = {"a": a.detach().clone().flatten().tolist(), "b": b.detach().clone().flatten().tolist()}
    steps = [(torch.randn(2, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64))
             for _ in range(5)]
    for ga, gb in steps:
        a.grad, b.grad = ga.clone(), gb.clone()
        opt.step()
    for i, w0 in enumerate(start["b"]):  # no decay: the scalar reference directly
        assert b.flatten()[i].item() == pytest.approx(reference_smorms3(w0, [gb[i].item() for _, gb in steps], 0.02)[-1],
                                                      rel=1e-12, abs=1e-15)
    for i, w in enumerate(start["a"]):  # with decay: the gradient is grad + 0.1 w at each step's weight
        mem, m, m2 = 1.0, 0.0, 0.0
        for ga, _ in steps:
            grad = ga.flatten()[i].item() + 0.1 * w
            r = 1.0 / (mem + 1.0)
            m, m2 = (1 - r) * m + r * grad, (1 - r) * m2 + r * grad * grad
            x = m * m / (m2 + 1e-16)
            w, mem = w - grad * min(0.02, x) / (math.sqrt(m2) + 1e-16), 1 + mem * (1 - x)
        assert a.flatten()[i].item() == pytest.approx(w, rel=1e-12, abs=1e-15)


def test_smorms3_closure_and_state_dict():
    w = torch.nn.Parameter(torch.tensor([3.0]))
    opt = SMORMS3([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    first = opt.step(closure)
    assert first.item() == pytest.approx(9.0)
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"mem", "g", "g2"}
    with pytest.raises(ValueError, match="lr > 0"):
        SMORMS3([w], lr=0)


def test_weight_decay_groups_follow_the_posts():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cls = torch.nn.Parameter(torch.zeros(1, 8))  # (1, dim): squeezed shape is 1-D
            self.lin = torch.nn.Linear(8, 8)
            self.norm = torch.nn.LayerNorm(8)
            self.emb = torch.nn.Embedding(10, 8)
            self.frozen = torch.nn.Linear(8, 8)
            self.frozen.requires_grad_(False)

    net = Net()
    groups = param_groups(net.named_parameters(), 0.1, skip=["emb.*"])
    no_decay, decay = groups
    ids = lambda ps: {id(p) for p in ps}
    assert ids(decay["params"]) == {id(net.lin.weight)}
    assert ids(no_decay["params"]) == {id(net.cls), id(net.lin.bias), id(net.norm.weight), id(net.norm.bias),
                                       id(net.emb.weight)}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0


def test_optimizer_components_build_from_named_parameters():
    net = torch.nn.Linear(4, 2)
    maker = zoo_core.create("optim", "adamw", weight_decay=0.05, lr=0.01)
    opt = maker(list(net.named_parameters()))
    assert isinstance(opt, torch.optim.AdamW)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 0.05]


# ---- torch optimizers by name, sparse + dense, lookahead, freezing ----------------------
import copy  # noqa: E402

from safetensors.torch import load_file  # noqa: E402

from zoo_core.model import build_optimizer  # noqa: E402
from zoo_core.errors import ZooError  # noqa: E402
from zoo_core.overrides import compose  # noqa: E402
from zoo_core.train.loop import Trainer  # noqa: E402
from zoo_core.train.state import join_optimizer_state, split_optimizer_state  # noqa: E402
from zoo_plugins.optimizers.lookahead import Lookahead  # noqa: E402
from zoo_plugins.optimizers.sparse_dense import SparseDenseAdam  # noqa: E402

SMALL = ["data=wordfreq_langid", "data.options.words_per_language=60", "data.options.languages=[en,de,fi]",
         "dim=16", "mixer=identity", "pool=seed_attention", "token_dropout=0", "train.batch_size=32", "train.epochs=2",
         "train.patience=5", "train.plots=false"]  # pinned here, not inherited from the default recipe


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                      ("radam", torch.optim.RAdam), ("rmsprop", torch.optim.RMSprop),
                                      ("adagrad", torch.optim.Adagrad)])
def test_torch_optimizers_by_name_get_the_decay_groups(name, cls):
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    opt = zoo_core.create("optim", name, weight_decay=0.1)(list(net.named_parameters()))
    assert type(opt) is cls
    assert [(len(g["params"]), g["weight_decay"]) for g in opt.param_groups] == [(3, 0.0), (1, 0.1)]


class SparseNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(40, 6, sparse=True)
        self.out = torch.nn.Linear(6, 1)

    def forward(self, ids):
        return self.out(self.emb(ids).mean(1))


def sparse_batches(n=6):
    g = torch.Generator().manual_seed(2)
    return [(torch.randint(0, 30, (8, 3), generator=g), torch.randn(8, 1, generator=g)) for _ in range(n)]


def test_sparse_dense_is_sparse_adam_plus_adam_step_by_step():
    mine, ref = SparseNet(), SparseNet()
    opt = SparseDenseAdam(mine.parameters(), lr=0.01)
    sparse_ref = torch.optim.SparseAdam([ref.emb.weight], lr=0.01)
    dense_ref = torch.optim.Adam(ref.out.parameters(), lr=0.01, foreach=False)
    for ids, y in sparse_batches():
        for net, opts in ((mine, [opt]), (ref, [sparse_ref, dense_ref])):
            for o in opts:
                o.zero_grad()
            torch.nn.functional.mse_loss(net(ids), y).backward()
            for o in opts:
                o.step()
        assert mine.emb.weight.grad.is_sparse
        for a, b in zip(mine.parameters(), ref.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # rows never looked up are untouched, as SparseAdam promises
    untouched = sorted(set(range(40)) - {int(i) for ids, _ in sparse_batches() for i in ids.flatten()})
    assert untouched and torch.equal(mine.emb.weight[untouched], SparseNet().emb.weight[untouched])


@pytest.mark.parametrize("rule", ["adam", "rowwise_adagrad"])
def test_sparse_dense_state_round_trips_through_the_trainers_pickle_free_format(rule):
    batches = sparse_batches(8)
    a = SparseNet()
    opt_a = SparseDenseAdam(a.parameters(), lr=0.01, sparse_rule=rule)

    def step(net, opt, ids, y):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(ids), y).backward()
        opt.step()

    for ids, y in batches[:4]:
        step(a, opt_a, ids, y)
    tensors, plain = split_optimizer_state(opt_a.state_dict())
    plain = json.loads(json.dumps(plain))  # what the trainer writes to state.json
    b = SparseNet()
    b.load_state_dict(a.state_dict())
    opt_b = SparseDenseAdam(b.parameters(), lr=0.01, sparse_rule=rule)
    opt_b.load_state_dict(join_optimizer_state({k: v.clone() for k, v in tensors.items()}, plain))
    for ids, y in batches[4:]:
        step(a, opt_a, ids, y)
        step(b, opt_b, ids, y)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_training_with_a_sparse_embedder_and_sparse_dense(tmp_path):
    run = compose(SMALL + ["embed=full", "embed.sparse=true", "optim=sparse_dense", "train.lr=0.01",
                           "tokenizer.unit=char_ngrams", "train.epochs=4", "train.keep_state=true",
                   "train.clip=null"])  # torch clip_grad_norm_ has no sparse kernel (see docs/losses_tasks.md)
    trainer = Trainer(run, tmp_path / "sparse", progress=False)
    result = trainer.fit()
    assert isinstance(trainer.optimizer, SparseDenseAdam)
    sparse_params = [p for p in trainer.model.parameters() if p.grad is not None and p.grad.is_sparse]
    assert sparse_params, "the full embedder with sparse=true should give sparse gradients"
    losses = [row["train_loss"] for row in trainer.state.history]
    assert result.epochs == 4 and losses[-1] < 0.9 * losses[0]
    # the pickle-free resume state holds the sparse parameter's moments
    tensors = load_file(str(tmp_path / "sparse" / "training_state" / "state.safetensors"))
    assert any(k.startswith("optim.") and k.endswith("exp_avg_sq") for k in tensors)


def test_lookahead_follows_algorithm_1_with_sgd_inside():
    k, alpha, lr = 3, 0.5, 0.1
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = Lookahead(torch.optim.SGD([w], lr=lr), k=k, alpha=alpha)
    fast, slow = w.detach().clone(), w.detach().clone()
    for t in range(1, 8):
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
        fast = fast - lr * 2 * fast
        if t % k == 0:
            slow = slow + alpha * (fast - slow)
            fast = slow.clone()
        torch.testing.assert_close(w.detach(), fast)


def test_lookahead_grammar_state_dict_and_errors():
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    run = compose(["optim=lookahead", "optim.inner=smorms3", "optim.k=2", "optim.lr=0.01"])
    opt = build_optimizer(net, run.model.optim)
    assert isinstance(opt, Lookahead) and isinstance(opt.inner, SMORMS3)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups is opt.inner.param_groups
    x, y = torch.randn(16, 4), torch.randn(16, 1)

    def step(n, o):
        o.zero_grad()
        torch.nn.functional.mse_loss(n(x), y).backward()
        o.step()

    for _ in range(3):  # mid-cycle: slow weights differ from fast ones
        step(net, opt)
    net2 = copy.deepcopy(net)
    opt2 = build_optimizer(net2, run.model.optim)
    tensors, plain = split_optimizer_state(opt.state_dict())
    opt2.load_state_dict(join_optimizer_state({k: v.clone() for k, v in tensors.items()}, json.loads(json.dumps(plain))))
    assert any(k.endswith("lookahead_slow") for k in tensors)
    for _ in range(3):
        step(net, opt)
        step(net2, opt2)
    for a, b in zip(net.parameters(), net2.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ZooError, match="wraps another optimizer"):
        build_optimizer(net, compose(["optim=lookahead", "optim.inner=lookahead"]).model.optim)
    # the LR scheduler drives the inner optimizer's rate
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5)
    assert opt.inner.param_groups[0]["lr"] == pytest.approx(0.005)
    del sched


def test_frozen_component_does_not_change_and_is_not_optimized(tmp_path):
    run = compose(SMALL + ["embed.freeze=true", "optim=adamw", "train.lr=0.01"])
    trainer = Trainer(run, tmp_path / "frozen", progress=False)
    trainer.prepare()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    frozen = {id(p) for p in trainer.model.embed.parameters()}
    assert frozen
    in_optimizer = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not frozen & in_optimizer and in_optimizer
    trainer = Trainer(run, tmp_path / "frozen", progress=False)
    trainer.fit()
    after = trainer.model.state_dict()
    embed_keys = [k for k in before if k.startswith("embed.")]
    assert embed_keys and all(torch.equal(before[k], after[k]) for k in embed_keys)
    assert any(not torch.equal(before[k], after[k]) for k in before if not k.startswith("embed."))


@pytest.mark.parametrize("sparse_dim", [1, 2])
def test_sparse_dense_matches_sparse_adam_for_row_and_element_sparse_gradients(sparse_dim):
    """Row gradients (embeddings) take a gather/scatter path, any other sparse layout the generic one."""
    g = torch.Generator().manual_seed(0)
    start = torch.randn(20, 4, generator=g)
    mine, ref = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    opt, ref_opt = SparseDenseAdam([mine], lr=0.05), torch.optim.SparseAdam([ref], lr=0.05)
    for _ in range(5):
        dense = torch.randn(20, 4, generator=g) * (torch.rand(20, 4 if sparse_dim == 2 else 1, generator=g) < 0.3)
        grad = dense.to_sparse(sparse_dim)
        assert grad.sparse_dim() == sparse_dim
        mine.grad, ref.grad = grad.clone(), grad.clone()
        opt.step()
        ref_opt.step()
        torch.testing.assert_close(mine, ref, rtol=1e-6, atol=1e-7)
    assert not torch.equal(mine, start)


def _row_grads(g, num_rows, dim, steps):
    """Row-sparse gradients with repeated rows (uncoalesced), as an EmbeddingBag gives them."""
    for _ in range(steps):
        rows = torch.randint(num_rows, (9,), generator=g)
        yield torch.sparse_coo_tensor(rows.unsqueeze(0), torch.randn(9, dim, generator=g), (num_rows, dim))


def test_rowwise_adagrad_with_one_column_is_torch_adagrad():
    """A row of one column is one weight: row-wise AdaGrad is then torch.optim.Adagrad (sparse)."""
    g = torch.Generator().manual_seed(0)
    start = torch.randn(25, 1, generator=g)
    mine, ref = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    opt = SparseDenseAdam([mine], lr=0.05, sparse_rule="rowwise_adagrad", sparse_lr_scale=3.0)
    ref_opt = torch.optim.Adagrad([ref], lr=0.15, eps=1e-10)
    for grad in _row_grads(g, 25, 1, 6):
        mine.grad, ref.grad = grad.clone(), grad.coalesce()
        opt.step()
        ref_opt.step()
        torch.testing.assert_close(mine, ref, rtol=1e-6, atol=1e-7)
    assert not torch.equal(mine, start)


def test_rowwise_adagrad_is_its_formula_row_by_row_and_leaves_other_rows_alone():
    """G_r += mean_j g_rj², p_r -= lr g_r / (sqrt(G_r) + eps), written out as a loop over rows;
    rows no gradient names keep their weights and their accumulator (0)."""
    g = torch.Generator().manual_seed(1)
    start = torch.randn(30, 4, generator=g)
    mine = torch.nn.Parameter(start.clone())
    opt = SparseDenseAdam([mine], lr=0.1, sparse_rule="rowwise_adagrad")
    ref, acc, seen = start.clone().double(), torch.zeros(30, dtype=torch.float64), set()
    for grad in _row_grads(g, 30, 4, 5):
        mine.grad = grad.clone()
        opt.step()
        dense = grad.to_dense().double()
        for r in grad.coalesce()._indices()[0].tolist():
            acc[r] += (dense[r] ** 2).mean()
            ref[r] -= 0.1 * dense[r] / (acc[r].sqrt() + 1e-10)
            seen.add(r)
        torch.testing.assert_close(mine.detach().double(), ref, rtol=1e-5, atol=1e-6)
    untouched = sorted(set(range(30)) - seen)
    assert untouched and torch.equal(mine[untouched], start[untouched])
    row_sum = opt.state[mine]["row_sum"]
    assert row_sum.shape == (30,) and torch.all(row_sum[untouched] == 0) and "exp_avg" not in opt.state[mine]


def test_rowwise_adagrad_refuses_element_sparse_gradients_with_the_fix():
    p = torch.nn.Parameter(torch.zeros(4, 3))
    opt = SparseDenseAdam([p], lr=0.1, sparse_rule="rowwise_adagrad")
    p.grad = torch.eye(4, 3).to_sparse(2)
    with pytest.raises(ValueError, match="needs a row-sparse gradient .* use sparse_rule=adam"):
        opt.step()


def test_sparse_sgd_is_torch_sgd_on_sparse_rows_and_dense_parameters():
    """Row-wise SGD on the rows present in a sparse gradient (duplicates summed first) and
    torch's SGD with momentum on dense parameters: equal to torch.optim.SGD step by step."""
    from zoo_plugins.optimizers.rowwise import SparseDenseSGD

    g = torch.Generator().manual_seed(0)
    table, dense = torch.randn(30, 4, generator=g), torch.randn(5, 3, generator=g)
    mine = [torch.nn.Parameter(table.clone()), torch.nn.Parameter(dense.clone())]
    ref = [torch.nn.Parameter(table.clone()), torch.nn.Parameter(dense.clone())]
    opt = SparseDenseSGD([{"params": [mine[0]], "momentum": 0.0}, {"params": [mine[1]]}], lr=0.3, momentum=0.9)
    ref_sparse, ref_dense = torch.optim.SGD([ref[0]], lr=0.3), torch.optim.SGD([ref[1]], lr=0.3, momentum=0.9)
    for _ in range(4):
        rows = torch.randint(30, (12,), generator=g)  # repeats: an uncoalesced gradient
        grad = torch.sparse_coo_tensor(rows.unsqueeze(0), torch.randn(12, 4, generator=g), (30, 4))
        dgrad = torch.randn(5, 3, generator=g)
        mine[0].grad, ref[0].grad = grad.clone(), grad.coalesce()  # torch adds duplicates one by one
        mine[1].grad, ref[1].grad = dgrad.clone(), dgrad.clone()
        opt.step()
        ref_sparse.step()
        ref_dense.step()
        torch.testing.assert_close(mine[0], ref[0], rtol=0, atol=1e-7)
        torch.testing.assert_close(mine[1], ref[1], rtol=0, atol=1e-7)
    assert not torch.equal(mine[0], table)


def test_sparse_dense_on_row_gather_gradients_matches_sparse_adam():
    """The hash embedder's RowGather gradients (each row once) through the row-wise Adam step."""
    model = zoo_core.build(["num_classes=3", "dim=8", "embed.num_bits=128", "embed.sparse=true", "mixer=[]",
                            "pool=mean", "optim=sparse_dense", "tokenizer.unit=char_ngrams"])
    weight = model.embed.weight
    ref = torch.nn.Parameter(weight.detach().clone())
    opt, ref_opt = SparseDenseAdam([weight], lr=0.05), torch.optim.SparseAdam([ref], lr=0.05)
    from zoo_core.batches import featurize_texts

    feats = featurize_texts(model, ["hello world", "bonjour", "hallo welt", "x"], bag=True)
    for idx in ([0, 1], [2, 3], [0, 3]):
        opt.zero_grad()
        model.embed.bag(feats.encode(idx)).pow(2).sum().backward()
        ref.grad = weight.grad.clone()
        opt.step()
        ref_opt.step()
        torch.testing.assert_close(weight, ref, rtol=0, atol=1e-7)
