"""SMORMS3 against a hand computation of Funk's equations; weight-decay groups."""
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
