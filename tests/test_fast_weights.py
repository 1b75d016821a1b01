"""fast_weights mixer (Ba et al. 2016): the attention form equals an explicit recurrence
that keeps the fast-weight matrix A(t); causal by values; padding on both sides."""
import pytest
import torch

import zoo_core
from zoo_plugins.mixers import fast_weights


def build(**cfg):
    torch.manual_seed(0)
    return zoo_core.create("mixer", "fast_weights", **{"dim": 8, **cfg}).eval()


def reference(m, x):
    """One sequence (T, d), the paper's equations with A(t) kept as a (d, d) matrix."""
    d = x.shape[-1]
    A = torch.zeros(d, d, dtype=x.dtype)
    h = torch.zeros(d, dtype=x.dtype)
    f = torch.relu if m.activation == "relu" else torch.tanh
    outs = []
    for t in range(len(x)):
        z = m.recurrent.weight @ h + m.input.weight @ x[t] + m.input.bias
        hs = f(z)
        for _ in range(m.inner_steps):
            hs = f(torch.nn.functional.layer_norm(z + A @ hs, (d,), m.norm.weight, m.norm.bias, m.norm.eps))
        h = hs
        A = m.decay * A + m.rate * torch.outer(h, h)  # A(t) includes h(t), used for h(t+1)
        outs.append(h)
    return torch.stack(outs)


def padded_batch(seqs, left):
    t = max(len(s) for s in seqs)
    x = torch.randn(len(seqs), t, seqs[0].shape[-1]) * 5  # garbage at padding
    mask = torch.zeros(len(seqs), t, dtype=torch.bool)
    for i, s in enumerate(seqs):
        where = slice(t - len(s), t) if left else slice(0, len(s))
        x[i, where], mask[i, where] = s, True
    return x, mask


@pytest.mark.parametrize("cfg", [{}, {"inner_steps": 3, "activation": "tanh", "decay": 0.8, "rate": 0.9}])
@pytest.mark.parametrize("left", [False, True])
def test_equals_the_explicit_fast_weight_recurrence(cfg, left):
    m = build(**cfg)
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randn(n, 8, generator=g) for n in (9, 4, 1, 6)]
    x, mask = padded_batch(seqs, left)
    with torch.no_grad():
        y = m(x, mask)
        for i, s in enumerate(seqs):
            want = reference(m, s)
            assert (y[i][mask[i]] - want).abs().max() < 1e-5
        assert torch.equal(y[~mask], torch.zeros_like(y[~mask]))


def test_a_wrong_decay_exponent_is_caught(monkeypatch):
    """λ^(t-τ+1) instead of λ^(t-τ) (an off-by-one in the minibatch form) must fail the reference."""
    m = build(decay=0.5)
    seq = torch.randn(8, 8, generator=torch.Generator().manual_seed(2))
    ok = fast_weights.FastWeightsMixer.coefficients

    def off_by_one(self, t, like):
        return ok(self, t, like) * self.decay

    monkeypatch.setattr(fast_weights.FastWeightsMixer, "coefficients", off_by_one)
    with torch.no_grad():
        y = m(seq[None], torch.ones(1, 8, dtype=torch.bool))[0]
    assert (y - reference(m, seq)).abs().max() > 1e-3


def test_causal_by_values():
    m = build()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 10, 8, generator=g)
    mask = torch.ones(2, 10, dtype=torch.bool)
    y = x.clone()
    y[:, 6:] = 1e4 * torch.randn(2, 4, 8, generator=g)
    with torch.no_grad():
        a, b = m(x, mask), m(y, mask)
    assert torch.equal(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_fast_weights_matter_and_single_tokens_work():
    """The memory term changes the states (a plain RNN would not depend on rate), and a one-token
    sequence is f(LN(C x + b)) since A(0) = 0."""
    x = torch.randn(1, 6, 8, generator=torch.Generator().manual_seed(4))
    mask = torch.ones(1, 6, dtype=torch.bool)
    with torch.no_grad():
        slow, fast = build(rate=1e-6)(x, mask), build(rate=2.0)(x, mask)
        assert torch.allclose(slow[:, 0], fast[:, 0]) and (slow[:, 1:] - fast[:, 1:]).abs().max() > 1e-2
        m = build()
        one = m(x[:, :1], mask[:, :1])[0, 0]
        want = torch.relu(m.norm(m.input(x[0, 0])))
        assert torch.allclose(one, want, atol=1e-6)
