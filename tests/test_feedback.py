"""feedback mixer (Fan et al. 2020): equals a step-by-step reference of the paper's equations
(per sequence, attention written out per head), causal by values, padding on both sides."""
import pytest
import torch
from torch.nn import functional as F

import zoo_core


def build(**cfg):
    torch.manual_seed(0)
    m = zoo_core.create("mixer", "feedback", **{"dim": 8, "heads": 2, "layers": 3, **cfg}).eval()
    with torch.no_grad():  # layer weights away from uniform, so a wrong mix of layers shows
        m.layer_logits.copy_(torch.linspace(-1, 2, len(m.layer_logits)))
    return m


def reference(m, x):
    """One sequence (T, d): m_s = Σ_l softmax(w)_l x_s^l; z_t^l = Attn(x_t^{l-1}, m_1..m_{t-1})."""
    d, h = x.shape[-1], m.heads
    k = d // h
    w = torch.softmax(m.layer_logits, 0)
    memories, outs = [], []
    for t in range(len(x)):
        s = x[t]
        layer_states = [s]
        for l in range(m.layers):
            if memories:
                q = m.to_q[l](s)
                kv = torch.stack([m.to_kv(mem) for mem in memories])  # (t-1, 2d)
                keys, values = kv[:, :d], kv[:, d:]
                heads = []
                for j in range(h):
                    cols = slice(j * k, (j + 1) * k)
                    a = torch.softmax(keys[:, cols] @ q[cols] / k ** 0.5, 0)
                    heads.append(a @ values[:, cols])
                z = m.to_out[l](torch.cat(heads))
            else:
                z = torch.zeros(d)
            u = m.norm_attn[l](s + z)
            s = m.norm_ff[l](u + m.ff[l](u))
            layer_states.append(s)
        memories.append(sum(w[l] * layer_states[l] for l in range(m.layers + 1)))
        outs.append(s)
    return torch.stack(outs)


@pytest.mark.parametrize("left", [False, True])
def test_equals_the_step_by_step_reference(left):
    m = build()
    g = torch.Generator().manual_seed(1)
    lengths = [6, 2, 1, 4]
    x = 5 * torch.randn(4, 6, 8, generator=g)
    pos = torch.arange(6)
    mask = torch.stack([(pos >= 6 - n) if left else (pos < n) for n in lengths])
    with torch.no_grad():
        y = m(x, mask)
        for i in range(4):
            want = reference(m, x[i][mask[i]])
            assert (y[i][mask[i]] - want).abs().max() < 1e-5
    assert torch.equal(y[~mask], torch.zeros_like(y[~mask]))


def test_causal_by_values_and_memories_carry_the_past():
    m = build()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 9, 8, generator=g)
    mask = torch.ones(2, 9, dtype=torch.bool)
    future = x.clone()
    future[:, 5:] = 1e4 * torch.randn(2, 4, 8, generator=g)
    past = x.clone()
    past[:, 0] = torch.randn(2, 8, generator=g)
    with torch.no_grad():
        a, b, c = m(x, mask), m(future, mask), m(past, mask)
    assert torch.equal(a[:, :5], b[:, :5])
    assert (a[:, 1:] - c[:, 1:]).abs().amin(-1).gt(0).all()  # token 0 reaches every later token


def test_one_token_reads_no_memory():
    m = build()
    x = torch.randn(3, 1, 8)
    with torch.no_grad():
        y = m(x, torch.ones(3, 1, dtype=torch.bool))
        s = x[:, 0]
        for l in range(m.layers):
            u = m.norm_attn[l](s)
            s = m.norm_ff[l](u + m.ff[l](u))
    assert torch.allclose(y[:, 0], s, atol=1e-6)


def test_every_layer_state_feeds_the_memory():
    """Gradient of a later output reaches the layer-mixing weights of every layer: the memory is
    the softmax-weighted sum of all layer states (x^0 .. x^L), not the top layer only."""
    m = build()
    x = torch.randn(1, 4, 8)
    (m(x, torch.ones(1, 4, dtype=torch.bool))[0, -1] * torch.randn(8)).sum().backward()
    assert (m.layer_logits.grad.abs() > 0).all()
