"""Behaviour of every mixer: shapes, padding, causality, and each method against an
independent reference of its paper's equations.

Small dims and lengths throughout: the whole file runs in seconds on two cores.
"""
from __future__ import annotations

import importlib
import math
import re

import pytest
import torch
from torch.nn import functional as F

import zoo_core
from zoo_core import create

D = 16

# (name, config) pairs: every registered mixer with its defaults, plus the options that
# change how it treats the sequence.
VARIANTS = [(c.name, {}) for c in zoo_core.list_components("mixer:*")] + [
    ("self_attention", {"causal": True}),
    ("linear_attention", {"causal": True}),
    ("lambda", {"causal": True}),
    ("lambda", {"normalize": "kernel"}),
    ("lambda", {"normalize": "kernel", "causal": True, "position_lambda": True, "window": 2}),
    ("lambda", {"position_lambda": True, "window": 2}),
    ("lambda", {"position_lambda": True, "window": 2, "causal": True}),
    ("hypermixer", {"tied": True}),
    ("hypermixer", {"positions": False}),
    ("performer", {"causal": True}),
    ("causal_conv", {"kernel_size": 3, "dilation": 2}),
    ("causal_conv", {"causal": False, "kernel_size": 3, "groups": 4}),
    ("qrnn", {"causal": False, "kernel_size": 3}),
    ("gru", {"causal": False, "bidirectional": True}),
    ("gru", {"causal": False, "reverse": True}),
    ("lstm", {"causal": False, "bidirectional": True, "layers": 2}),
]

CAUSAL = [(n, c) for n, c in VARIANTS if c.get("causal", n in ("causal_conv", "qrnn", "gru", "lstm"))]


def _id(variant):
    name, cfg = variant
    return name + "".join(f"-{k}={v}" for k, v in cfg.items())


def build(name: str, dim: int = D, **cfg):
    torch.manual_seed(0)
    return create("mixer", name, dim=dim, **cfg).eval()


def lengths_mask(lengths: list[int], left: bool = False) -> torch.Tensor:
    t = max(lengths)
    pos = torch.arange(t).unsqueeze(0)
    lens = torch.tensor(lengths).unsqueeze(1)
    return pos >= t - lens if left else pos < lens


# ---------------------------------------------------------------------------------------
# contract: shape, padding, alone == in a batch
# ---------------------------------------------------------------------------------------

def test_every_mixer_is_registered_with_post_and_paper():
    names = {c.name for c in zoo_core.list_components("mixer:*")}
    assert {"self_attention", "linear_attention", "lambda", "hypermixer", "gmlp", "mlp_mixer", "fnet",
            "fastformer", "performer", "causal_conv", "qrnn", "gru", "lstm", "identity"} <= names
    for c in zoo_core.list_components("mixer:*"):
        assert c.post and c.paper, c.name


@pytest.mark.parametrize("left", [False, True], ids=["right-padded", "left-padded"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_padding_never_leaks(variant, left):
    """Changing padded positions (even to huge values) changes no real output."""
    name, cfg = variant
    mixer = build(name, **cfg)
    mask = lengths_mask([9, 4, 1, 6], left=left)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 9, D, generator=g)
    y = x.clone()
    y[~mask] = torch.randn(int((~mask).sum()), D, generator=g) * 100
    with torch.no_grad():
        out_x, out_y = mixer(x, mask), mixer(y, mask)
    assert out_x.shape == (4, 9, D)
    assert torch.isfinite(out_x).all() and torch.isfinite(out_y).all()
    torch.testing.assert_close(out_x[mask], out_y[mask], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_left_and_right_padding_give_the_same_real_outputs(variant):
    """Issue 15: position-tied weights (gmlp, mlp_mixer) and absolute positions (hypermixer)
    indexed from the start of the padded row, so left padding moved the real outputs."""
    name, cfg = variant
    mixer = build(name, **cfg)
    if name == "gmlp":  # away from the near-zero, position-uniform init, so position ties show
        with torch.no_grad():
            mixer.spatial_weight.normal_()
            mixer.spatial_bias.normal_()
    lengths = [9, 4, 1, 6]
    right, left = lengths_mask(lengths), lengths_mask(lengths, left=True)
    x = torch.randn(4, 9, D, generator=torch.Generator().manual_seed(4))
    xl = torch.zeros_like(x)
    xl[left] = x[right]  # the same real tokens, in the same order, padded on the left
    with torch.no_grad():
        out_r, out_l = mixer(x, right), mixer(xl, left)
    torch.testing.assert_close(out_l[left], out_r[right], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_a_sequence_alone_equals_it_inside_a_padded_batch(variant):
    name, cfg = variant
    mixer = build(name, **cfg)
    lengths = [9, 4, 1, 6]
    mask = lengths_mask(lengths)
    x = torch.randn(4, 9, D, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        batch = mixer(x, mask)
        for i, n in enumerate(lengths):
            alone = mixer(x[i : i + 1, :n], torch.ones(1, n, dtype=torch.bool))
            torch.testing.assert_close(batch[i, :n], alone[0], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------
# causality
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", CAUSAL, ids=[_id(v) for v in CAUSAL])
def test_causal_output_has_zero_gradient_wrt_later_inputs(variant):
    """d y[b, t] / d x[b, s] == 0 exactly for every s > t, and != 0 for some s <= t.
    T = 150 spans several chunks of the chunked prefix-sum kernels."""
    name, cfg = variant
    mixer = build(name, **cfg)
    t_len = 150
    lengths = [t_len, 100]
    mask = lengths_mask(lengths)
    x = torch.randn(2, t_len, D, generator=torch.Generator().manual_seed(3), requires_grad=True)
    for b, t in [(0, 0), (0, 63), (0, 64), (0, 100), (1, 37), (1, 99)]:
        x.grad = None
        mixer(x, mask)[b, t].sum().backward()
        assert x.grad[b, t + 1 :].abs().max() == 0, f"output {t} of sequence {b} depends on later inputs"
        assert x.grad[b, : t + 1].abs().max() > 0
        assert x.grad[1 - b].abs().max() == 0, "sequences in a batch must not interact"


@pytest.mark.parametrize("name", ["self_attention", "linear_attention", "lambda", "performer"])
def test_non_causal_forms_do_see_the_future(name):
    mixer = build(name)
    x = torch.randn(1, 6, D, requires_grad=True)
    mixer(x, torch.ones(1, 6, dtype=torch.bool))[0, 0].sum().backward()
    assert x.grad[0, 1:].abs().max() > 0


def test_causal_attention_with_left_padding_stays_finite():
    mixer = build("self_attention", causal=True)
    mask = lengths_mask([5, 2], left=True)
    x = torch.randn(2, 5, D, requires_grad=True)
    out = mixer(x, mask)
    out[mask].sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


# ---------------------------------------------------------------------------------------
# self-attention and DropHead
# ---------------------------------------------------------------------------------------

def _heads(mixer, x, mask):
    """Per-head outputs (B, T, H, d) as they enter the output projection."""
    seen = {}
    handle = mixer.out.register_forward_pre_hook(lambda mod, args: seen.setdefault("x", args[0]))
    try:
        mixer(x, mask)
    finally:
        handle.remove()
    return seen["x"].view(x.shape[0], x.shape[1], mixer.heads, mixer.head_dim)


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_equals_explicit_softmax_attention(causal):
    mixer = build("self_attention", heads=4, causal=causal)
    mask = lengths_mask([7, 5, 3])
    x = torch.randn(3, 7, D)
    b, t, h, d = 3, 7, 4, D // 4
    q, k, v = mixer.qkv(x).view(b, t, 3, h, d).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    allowed = mask[:, None, None, :] & (torch.ones(t, t, dtype=torch.bool).tril() if causal else True)
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    expected = mixer.out((weights @ v).transpose(1, 2).reshape(b, t, D))
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, mask)[mask], expected[mask].detach(), rtol=1e-5, atol=1e-5)


def test_drophead_zeroes_whole_heads_at_rate_p_and_is_identity_in_eval():
    p, heads, dim = 0.3, 8, 32
    mixer = build("self_attention", dim=dim, heads=heads, drop_head=p)
    reference = build("self_attention", dim=dim, heads=heads)  # same seed: same weights
    x = torch.randn(200, 5, dim)
    mask = torch.ones(200, 5, dtype=torch.bool)
    with torch.no_grad():
        clean = _heads(mixer.eval(), x, mask)
        torch.testing.assert_close(mixer(x, mask), reference(x, mask))  # eval: identity
        torch.manual_seed(5)
        dropped = _heads(mixer.train(), x, mask)
    zero = (dropped == 0).all(dim=(1, 3))  # (B, H): the whole head, every token and channel
    partly = (dropped == 0).any(dim=(1, 3)) & ~zero
    assert not partly.any(), "dropout hit single units, not whole heads"
    assert abs(zero.float().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / zero.numel())
    kept = ~zero
    torch.testing.assert_close(dropped.permute(0, 2, 1, 3)[kept], clean.permute(0, 2, 1, 3)[kept] / (1 - p))


def test_drophead_rate_can_be_scheduled():
    mixer = build("self_attention", drop_head=0.5).train()
    mixer.drop_head = 0.0
    x, mask = torch.randn(2, 4, D), torch.ones(2, 4, dtype=torch.bool)
    torch.testing.assert_close(mixer(x, mask), mixer.eval()(x, mask))


# ---------------------------------------------------------------------------------------
# linear attention, performer
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("causal", [False, True])
def test_linear_attention_equals_the_quadratic_form_of_its_kernel(causal):
    mixer = build("linear_attention", heads=2, causal=causal)
    b, t, h, d = 2, 150, 2, D // 2
    mask = lengths_mask([t, 90])
    x = torch.randn(b, t, D, dtype=torch.float64)
    mixer.double()
    q, k, v = (proj(x).view(b, t, h, d).transpose(1, 2) for proj in (mixer.to_q, mixer.to_k, mixer.to_v))
    phi = lambda z: F.elu(z) + 1  # noqa: E731
    sim = phi(q) @ phi(k).transpose(-1, -2)  # (B, H, T, T): the kernel for every pair
    allowed = mask[:, None, None, :] & (torch.ones(t, t, dtype=torch.bool).tril() if causal else True)
    sim = sim * allowed
    expected = mixer.out(((sim / sim.sum(-1, keepdim=True)) @ v).transpose(1, 2).reshape(b, t, D))
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, mask)[mask], expected[mask].detach())


def test_kernel_attention_backward_is_the_gradient():
    """The hand-written backward of the side-by-side-heads kernel attention, by gradcheck,
    including zeroed (padded) key rows."""
    from zoo_plugins.mixers._common import linear_attention

    g = torch.Generator().manual_seed(0)
    b, t, h, f, e = 2, 6, 3, 4, 5
    q = (torch.rand(b, t, h * f, generator=g, dtype=torch.float64) + 0.1).requires_grad_()
    k = torch.rand(b, t, h * f, generator=g, dtype=torch.float64) + 0.1
    k[1, 4:] = 0.0
    k.requires_grad_()
    v = torch.randn(b, t, h * e, generator=g, dtype=torch.float64, requires_grad=True)
    for shift in (0.0, 1.0):  # features q + shift, k + shift (elu + 1 passes elu and shift=1)
        assert torch.autograd.gradcheck(lambda q, k, v: linear_attention(q, k, v, h, shift), (q, k, v))
        qh, kh = ((z + shift).view(b, t, h, -1).transpose(1, 2) for z in (q, k))
        vh = v.view(b, t, h, -1).transpose(1, 2)
        expected = (qh @ (kh.transpose(-1, -2) @ vh)) / (qh @ kh.sum(2).unsqueeze(-1))
        torch.testing.assert_close(linear_attention(q, k, v, h, shift), expected.transpose(1, 2).reshape(b, t, h * e))


@pytest.mark.parametrize("name", ["self_attention", "linear_attention", "performer"])
def test_fast_paths_equal_the_general_paths(name, monkeypatch):
    """The no-padding shortcut and the hand-written-backward kernel compute what the general
    masked path and the plain-ops kernel that traced/exported graphs record compute."""
    from zoo_plugins.mixers import _common

    mixer = build(name)
    x = torch.randn(2, 70, D, requires_grad=True)
    mask = torch.ones(2, 70, dtype=torch.bool)
    fast = mixer(x, mask)  # grad enabled: shortcut + autograd.Function
    (gx_fast,) = torch.autograd.grad(fast.sum(), x)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, mask), fast.detach())
    monkeypatch.setattr(_common, "tracing", lambda: True)  # as inside torch.jit.trace / export
    general = mixer(x, mask)
    torch.testing.assert_close(general, fast)
    (gx_general,) = torch.autograd.grad(general.sum(), x)
    torch.testing.assert_close(gx_general, gx_fast)


def test_orthogonal_random_features_are_orthogonal_within_a_block():
    from zoo_plugins.mixers.performer import orthogonal_random_features

    w = orthogonal_random_features(24, 8, torch.Generator().manual_seed(0))
    assert w.shape == (24, 8)
    for block in w.split(8):
        gram = block @ block.t()
        off = gram - torch.diag(torch.diagonal(gram))
        assert off.abs().max() < 1e-4


@pytest.mark.parametrize("causal", [False, True])
def test_performer_approaches_softmax_attention_as_features_grow(causal):
    from zoo_plugins.mixers.performer import favor_attention, orthogonal_random_features

    g = torch.Generator().manual_seed(0)
    b, h, t, d = 2, 2, 40, 8
    q, k, v = (torch.randn(b, t, h, d, generator=g, dtype=torch.float64) * 0.4 for _ in range(3))
    mask = lengths_mask([t, 25])
    allowed = mask[:, None, None, :] & (torch.ones(t, t, dtype=torch.bool).tril() if causal else True)
    qh, kh, vh = (z.transpose(1, 2) for z in (q, k, v))  # (B, H, T, d)
    exact = (qh @ kh.transpose(-1, -2) / math.sqrt(d)).masked_fill(~allowed, float("-inf")).softmax(-1) @ vh
    exact = exact.transpose(1, 2)  # (B, T, H, d)
    real = mask
    errors = []
    for m in (8, 64, 512, 4096):
        err = 0.0
        for seed in range(4):
            proj = orthogonal_random_features(m, d, torch.Generator().manual_seed(seed)).double()
            approx = favor_attention(q, k, v, proj, mask, causal)
            err += (approx - exact)[real].pow(2).mean().sqrt().item()
        errors.append(err / 4)
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    # Monte Carlo error ~ 1/sqrt(m): 512x more features, ~22x smaller error if unbiased (a
    # biased estimator, e.g. unsigned QR directions, stalls near 0.003)
    assert errors[-1] < errors[0] / 10, errors
    assert errors[-1] < 0.002, errors


def test_performer_mixer_is_softmax_attention_with_many_features():
    mixer = build("performer", heads=2, features=4096)
    b, t, h, d = 2, 12, 2, D // 2
    with torch.no_grad():
        mixer.to_q.weight.mul_(0.5)
        mixer.to_k.weight.mul_(0.5)
    x = torch.randn(b, t, D)
    mask = lengths_mask([t, 7])
    q, k, v = (proj(x).view(b, t, h, d).transpose(1, 2) for proj in (mixer.to_q, mixer.to_k, mixer.to_v))
    w = (q @ k.transpose(-1, -2) / math.sqrt(d)).masked_fill(~mask[:, None, None, :], float("-inf")).softmax(-1)
    exact = mixer.out((w @ v).transpose(1, 2).reshape(b, t, D))
    with torch.no_grad():
        approx = mixer(x, mask)
    rel = (approx - exact)[mask].norm() / exact[mask].norm()
    assert rel < 0.05


def test_performer_features_are_saved_and_can_be_redrawn():
    mixer = build("performer", redraw_interval=2).train()
    assert "projection" in mixer.state_dict()
    before = mixer.projection.clone()
    x, mask = torch.randn(1, 3, D), torch.ones(1, 3, dtype=torch.bool)
    mixer(x, mask), mixer(x, mask)
    assert torch.equal(before, mixer.projection)
    mixer(x, mask)
    assert not torch.equal(before, mixer.projection)


# ---------------------------------------------------------------------------------------
# lambda layer: against the paper's equations written out independently
# ---------------------------------------------------------------------------------------

def lambda_reference(x, mask, wq, wk, wv, e_rel, heads, window, normalize, causal, position):
    """Bello (2021) eq. (1)-(2) with an explicit lambda per query position n:
    λ_n = K̄_nᵀ V + E_nᵀ V, y_n = λ_nᵀ q_n, where K̄_n normalises the keys over the
    context that n sees (all real tokens, or the real tokens m <= n when causal)."""
    b, n, _ = x.shape
    k_dim = wk.shape[0]
    q = torch.einsum("bnd,ed->bne", x, wq).reshape(b, n, heads, k_dim)
    keys = torch.einsum("bnd,kd->bnk", x, wk)
    v = torch.einsum("bnd,vd->bnv", x, wv) * mask[..., None]
    idx = torch.arange(n)
    sees = mask[:, None, :] & ((idx[None, :] <= idx[:, None]) if causal else True)  # (B, n, m)
    sees = sees[..., None]  # (B, n, m, 1)
    if normalize == "softmax":
        logits = keys[:, None].expand(b, n, n, k_dim).masked_fill(~sees, float("-inf"))
        kbar = logits.softmax(dim=2)
    else:
        phi = (F.elu(keys) + 1)[:, None] * sees
        kbar = phi / phi.sum(2, keepdim=True)
    lam = torch.einsum("bnmk,bmv->bnkv", kbar, v)  # content lambda seen from each n
    if position:
        rel = idx[None, :] - idx[:, None]  # m - n
        near = (rel.abs() <= window) & ((rel <= 0) if causal else True)
        emb = e_rel[(rel + window).clamp(0, e_rel.shape[0] - 1)] * near[..., None]  # (n, m, k)
        lam = lam + torch.einsum("nmk,bmv->bnkv", emb, v)
    return torch.einsum("bnhk,bnkv->bnhv", q, lam).reshape(b, n, -1)


@pytest.mark.parametrize("position", [False, True], ids=["content", "content+position"])
@pytest.mark.parametrize("causal", [False, True], ids=["global", "causal"])
@pytest.mark.parametrize("normalize", ["softmax", "kernel"])
def test_lambda_equals_the_papers_equations(normalize, causal, position):
    cfg = dict(heads=2, dim_k=8, normalize=normalize, causal=causal, position_lambda=position, window=3)
    mixer = build("lambda", **cfg).double()
    t = 80
    mask = lengths_mask([t, 50, 1])
    x = torch.randn(3, t, D, dtype=torch.float64)
    e_rel = mixer.rel_pos if position else None
    if position and causal:  # the causal table stores offsets -w..0; pad the reference's -w..w view
        e_rel = torch.cat([mixer.rel_pos, torch.zeros(3, 8, dtype=torch.float64)])
    expected = lambda_reference(x, mask, mixer.to_q.weight, mixer.to_k.weight, mixer.to_v.weight, e_rel,
                                2, 3, normalize, causal, position)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, mask)[mask], expected[mask].detach())


@pytest.mark.parametrize("factor", [30.0, 1e3])
@pytest.mark.parametrize("position", [False, True], ids=["content", "content+position"])
def test_causal_lambda_is_causal_by_values(position, factor):
    """Issue 15: large later keys must not move earlier outputs (the old shift by the maximum
    over the whole sequence underflowed every earlier weight; gradients stayed 0)."""
    mixer = build("lambda", causal=True, position_lambda=position, window=2)
    t = 90  # several chunks of the causal softmax
    mask = lengths_mask([t, 61])
    x = torch.randn(2, t, D, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        base = mixer(x, mask)
        for cut in (0, 17, 31, 32, 60, 75):
            y = x.clone()
            y[:, cut + 1:] *= factor
            out = mixer(y, mask)
            assert torch.isfinite(out[mask]).all()
            moved = (out[:, : cut + 1] - base[:, : cut + 1]).abs().max().item()
            assert moved <= 1e-6, f"outputs up to {cut} moved by {moved:.3g} when later tokens grew x{factor}"


def test_causal_softmax_lambda_equals_the_per_position_softmax_with_large_keys():
    """Bello's causal form as a loop over positions n: softmax over the keys m <= n only,
    with keys spread far apart (later ones x30), in float32 against a float64 loop."""
    mixer = build("lambda", heads=2, dim_k=8, causal=True)
    t = 70
    mask = lengths_mask([t, 45, 1])
    x = torch.randn(3, t, D, generator=torch.Generator().manual_seed(6))
    x[:, 40:] *= 30
    wq, wk, wv = (w.detach().double() for w in (mixer.to_q.weight, mixer.to_k.weight, mixer.to_v.weight))
    xd = x.double()
    q = (xd @ wq.t()).view(3, t, 2, 8)
    keys, v = xd @ wk.t(), (xd @ wv.t()) * mask[..., None]
    expected = torch.zeros(3, t, 2, D // 2, dtype=torch.float64)
    for b in range(3):
        real = mask[b].nonzero().flatten().tolist()
        for n in real:
            seen = [m for m in real if m <= n]
            kbar = keys[b, seen].softmax(0)  # (m, k): over m <= n only
            lam = kbar.t() @ v[b, seen]  # (k, v)
            expected[b, n] = q[b, n] @ lam
    with torch.no_grad():
        got = mixer(x, mask).double()
    expected = expected.reshape(3, t, D)
    scale = expected[mask].abs().max()
    torch.testing.assert_close(got[mask] / scale, expected[mask] / scale, rtol=0, atol=2e-5)


@pytest.mark.parametrize("steep", [False, True], ids=["gentle-keys", "steep-keys"])
def test_causal_softmax_lambda_shared_shift_equals_per_position_shifts(steep, monkeypatch):
    """The fast form (one causal shift per chunk, the chunk as a masked linear attention) and
    the per-position form (exp(K_m - M_n), what traced graphs record and what steep chunks
    fall back to) agree in outputs and gradients, with padding on both sides."""
    from zoo_plugins.mixers import lambda_layer

    mixer = build("lambda", heads=2, dim_k=8, causal=True).train()
    t = 100
    mask = torch.stack([torch.arange(t) < t, torch.arange(t) < 70, torch.arange(t) >= 37])
    x = torch.randn(3, t, D, generator=torch.Generator().manual_seed(7))
    if steep:
        x[:, 45:] *= 60  # keys rise far within a chunk: those chunks take the per-position form
    calls = []
    per_position = lambda_layer._intra_per_position
    monkeypatch.setattr(lambda_layer, "_intra_per_position", lambda *a: calls.append(a[0].shape[0]) or per_position(*a))

    def run():
        xg = x.clone().requires_grad_(True)
        y = mixer(xg, mask)
        (y * mask[..., None]).pow(2).sum().backward()
        return y[mask].detach(), xg.grad, mixer.to_k.weight.grad.clone()

    mixer.zero_grad()
    fast = run()
    assert (len(calls) > 0) == steep and (not steep or calls[0] < 3 * 4), calls  # only the steep chunks
    monkeypatch.setattr(lambda_layer, "tracing", lambda: True)
    mixer.zero_grad()
    exact = run()
    for a, b in zip(fast, exact):
        scale = b.abs().max()
        torch.testing.assert_close(a / scale, b / scale, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------
# MLP family: HyperMixer, gMLP, MLP-Mixer
# ---------------------------------------------------------------------------------------

def test_hypermixer_takes_any_length_without_retraining():
    mixer = build("hypermixer")
    n_params = sum(p.numel() for p in mixer.parameters())
    for t in (1, 7, 64, 333):
        out = mixer(torch.randn(2, t, D), torch.ones(2, t, dtype=torch.bool))
        assert out.shape == (2, t, D) and torch.isfinite(out).all()
    assert sum(p.numel() for p in mixer.parameters()) == n_params
    assert all(max(p.shape) <= max(D, mixer.hidden) for p in mixer.parameters())


def test_hypermixer_equals_its_equation():
    mixer = build("hypermixer", hidden=12)
    x = torch.randn(2, 6, D)
    mask = lengths_mask([6, 4])
    xm = x * mask[..., None]
    from zoo_plugins.mixers.hypermixer import sinusoidal_positions

    hyper_in = xm + sinusoidal_positions(6, D)
    w1 = mixer.h1(hyper_in) * mask[..., None]
    w2 = mixer.h2(hyper_in) * mask[..., None]
    expected = mixer.norm(torch.einsum("bnp,bpd->bnd", w2, F.gelu(torch.einsum("bnp,bnd->bpd", w1, xm))))
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, mask)[mask], expected[mask].detach())


def test_hypermixer_tied_generates_one_matrix():
    tied, untied = build("hypermixer", tied=True), build("hypermixer")
    assert sum(p.numel() for p in tied.parameters()) < sum(p.numel() for p in untied.parameters())


@pytest.mark.parametrize("name", ["mlp_mixer", "gmlp"])
def test_fixed_length_mixers_refuse_longer_sequences_with_the_fix(name):
    mixer = build(name, max_len=8)
    mixer(torch.randn(1, 8, D), torch.ones(1, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match=rf"mixer {name}: sequence of 9 tokens exceeds max_len=8; "
                                         rf"set mixer.max_len=9"):
        mixer(torch.randn(1, 9, D), torch.ones(1, 9, dtype=torch.bool))


def test_mlp_mixer_mixes_tokens_per_channel_with_one_mlp():
    mixer = build("mlp_mixer", max_len=10, hidden=6)
    x = torch.randn(2, 7, D)
    mask = torch.ones(2, 7, dtype=torch.bool)
    u = mixer.norm(x).transpose(1, 2)  # (B, D, T): each channel is a length-T input
    hidden = F.gelu(u @ mixer.w1[:, :7].t() + mixer.b1)
    expected = (hidden @ mixer.w2[:7].t() + mixer.b2[:7]).transpose(1, 2)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, mask), expected.detach())


def test_gmlp_spatial_gating_unit():
    mixer = build("gmlp", max_len=10)
    with torch.no_grad():
        mixer.spatial_weight.normal_()  # away from the near-zero init, so mixing is visible
    x = torch.randn(2, 7, D)
    mask = torch.ones(2, 7, dtype=torch.bool)
    z = F.gelu(mixer.up(mixer.norm(x)))
    z1, z2 = z.chunk(2, -1)
    gate = torch.einsum("nm,bmc->bnc", mixer.spatial_weight[:7, :7], mixer.gate_norm(z2)) + mixer.spatial_bias[:7, None]
    expected = mixer.down(z1 * gate)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, mask), expected.detach())


# ---------------------------------------------------------------------------------------
# FNet, Fastformer
# ---------------------------------------------------------------------------------------

def test_fnet_is_the_real_part_of_fft2():
    mixer = build("fnet")
    x = torch.randn(3, 11, D)
    out = mixer(x, torch.ones(3, 11, dtype=torch.bool))
    torch.testing.assert_close(out, torch.fft.fft2(x).real)
    # against the DFT written out: Re(C_T X C_D - S_T X S_D)
    t = torch.arange(11.0)
    d = torch.arange(float(D))
    ct, st = torch.cos(2 * math.pi * torch.outer(t, t) / 11), torch.sin(2 * math.pi * torch.outer(t, t) / 11)
    cd, sd = torch.cos(2 * math.pi * torch.outer(d, d) / D), torch.sin(2 * math.pi * torch.outer(d, d) / D)
    torch.testing.assert_close(out, ct @ x @ cd - st @ x @ sd, rtol=1e-4, atol=1e-4)


def test_fnet_transforms_each_sequence_over_its_own_real_tokens():
    mixer = build("fnet")
    mask = lengths_mask([6, 3, 5], left=True)
    x = torch.randn(3, 6, D)
    out = mixer(x, mask)
    for i in range(3):
        torch.testing.assert_close(out[i][mask[i]], torch.fft.fft2(x[i][mask[i]]).real)
        assert (out[i][~mask[i]] == 0).all()


def test_fastformer_equals_its_equations():
    mixer = build("fastformer", heads=2)
    b, t, h, d = 2, 6, 2, D // 2
    mask = lengths_mask([6, 4])
    x = torch.randn(b, t, D)
    q, k, v = mixer.qkv(x).chunk(3, -1)
    outs = []
    for i in range(b):
        n = int(mask[i].sum())
        qi, ki, vi = q[i, :n], k[i, :n], v[i, :n]
        alpha = (mixer.query_score(qi) / math.sqrt(d)).softmax(0)  # (n, H)
        gq = torch.cat([(alpha[:, j : j + 1] * qi[:, j * d : (j + 1) * d]).sum(0) for j in range(h)])
        p = gq * ki
        beta = (mixer.key_score(p) / math.sqrt(d)).softmax(0)
        gk = torch.cat([(beta[:, j : j + 1] * p[:, j * d : (j + 1) * d]).sum(0) for j in range(h)])
        outs.append(mixer.out(gk * vi) + qi)
    with torch.no_grad():
        got = mixer(x, mask)
    for i in range(b):
        torch.testing.assert_close(got[i, : int(mask[i].sum())], outs[i].detach())


# ---------------------------------------------------------------------------------------
# convolution, QRNN, RNNs
# ---------------------------------------------------------------------------------------

def test_causal_conv_is_the_posts_pad_and_crop_convolution():
    mixer = build("causal_conv", kernel_size=3, dilation=2)
    span = 2 * (3 - 1)
    x = torch.randn(2, 10, D)
    conv = mixer.conv
    cropped = F.conv1d(x.transpose(1, 2), conv.weight, conv.bias, padding=span, dilation=2)[:, :, :-span]
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, torch.ones(2, 10, dtype=torch.bool)), cropped.transpose(1, 2))


@pytest.mark.parametrize("block", [256, 4], ids=["one-block", "blocks-of-4"])
@pytest.mark.parametrize("t", [1, 2, 7, 64, 129])
def test_linear_scan_and_its_gradient_equal_the_sequential_recurrence(t, block, monkeypatch):
    from zoo_plugins.mixers import qrnn

    monkeypatch.setattr(qrnn, "SCAN_BLOCK", block)
    a = torch.rand(3, t, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, t, 5, dtype=torch.float64, requires_grad=True)
    c, expected = torch.zeros(3, 5, dtype=torch.float64), []
    for i in range(t):
        c = a[:, i] * c + b[:, i]
        expected.append(c)
    expected = torch.stack(expected, 1)
    got = qrnn.linear_scan(a, b)
    torch.testing.assert_close(got, expected)
    weights = torch.randn_like(expected)
    grads = torch.autograd.grad((got * weights).sum(), (a, b))
    want = torch.autograd.grad((expected * weights).sum(), (a, b))
    torch.testing.assert_close(grads, want)


def test_qrnn_is_fo_pooling_over_masked_conv_gates():
    mixer = build("qrnn", kernel_size=2)
    x = torch.randn(2, 9, D)
    w, bias = mixer.gates.weight, mixer.gates.bias
    gates = F.conv1d(F.pad(x.transpose(1, 2), (1, 0)), w, bias).transpose(1, 2)
    z, f, o = gates.chunk(3, -1)
    z, f, o = torch.tanh(z), torch.sigmoid(f), torch.sigmoid(o)
    c, hs = torch.zeros(2, D), []
    for t in range(9):
        c = f[:, t] * c + (1 - f[:, t]) * z[:, t]
        hs.append(o[:, t] * c)
    with torch.no_grad():
        torch.testing.assert_close(mixer(x, torch.ones(2, 9, dtype=torch.bool)), torch.stack(hs, 1).detach())


def test_qrnn_zoneout_only_in_training():
    mixer = build("qrnn", zoneout=0.5)
    x, mask = torch.randn(2, 5, D), torch.ones(2, 5, dtype=torch.bool)
    torch.testing.assert_close(mixer(x, mask), mixer(x, mask))
    torch.manual_seed(0)
    assert not torch.allclose(mixer.train()(x, mask), mixer.eval()(x, mask))


RNN_VARIANTS = [("gru", {}), ("lstm", {}), ("gru", {"causal": False, "bidirectional": True}),
                ("lstm", {"causal": False, "bidirectional": True, "layers": 2}),
                ("gru", {"causal": False, "reverse": True})]


@pytest.mark.parametrize("variant", RNN_VARIANTS, ids=[_id(v) for v in RNN_VARIANTS])
def test_rnn_packed_batch_returns_each_sequences_own_states_in_order(variant):
    """Unsorted lengths: the packed path sorts internally and must hand the states back in
    the caller's order, each equal to running that sequence alone without padding."""
    name, cfg = variant
    mixer = build(name, **cfg)
    lengths = [3, 8, 1, 5, 8]
    mask = lengths_mask(lengths)
    x = torch.randn(5, 8, D)
    with torch.no_grad():
        batch = mixer(x, mask)
        for i, n in enumerate(lengths):
            alone, _ = mixer.rnn(x[i : i + 1, :n] if not cfg.get("reverse") else x[i : i + 1, :n].flip(1))
            if cfg.get("reverse"):
                alone = alone.flip(1)
            torch.testing.assert_close(batch[i, :n], alone[0])
            assert (batch[i, n:] == 0).all()


def test_rnn_reverse_reads_right_to_left():
    mixer = build("gru", causal=False, reverse=True)
    x = torch.randn(1, 6, D, requires_grad=True)
    mixer(x, torch.ones(1, 6, dtype=torch.bool))[0, 5].sum().backward()
    assert x.grad[0, :5].abs().max() == 0 and x.grad[0, 5].abs().max() > 0


# ---------------------------------------------------------------------------------------
# configs: validation messages say the fix
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,cfg,fix", [
    ("self_attention", {"heads": 5}, "heads=5 must divide dim=16; choose heads from"),
    ("performer", {"heads": 3}, "choose heads from [1, 2, 4, 8, 16]"),
    ("lambda", {"heads": 6}, "heads=6 must divide dim=16"),
    ("gru", {"bidirectional": True}, "set causal=false"),
    ("lstm", {"reverse": True}, "set causal=false"),
    ("gmlp", {"hidden": 33}, "use hidden=34"),
    ("causal_conv", {"groups": 3}, "groups=3 must divide dim=16"),
    ("causal_conv", {"causal": False, "kernel_size": 2}, "use an odd kernel_size"),
    ("self_attention", {"drop_head": 1.0}, "drop_head"),
    ("self_attention", {"dropout": 0.1}, "dropout"),
])
def test_bad_configs_are_rejected_with_the_fix(name, cfg, fix):
    with pytest.raises(zoo_core.ZooError) as err:
        create("mixer", name, dim=16, **cfg)
    assert fix in str(err.value)


def test_configs_import_no_torch():
    import subprocess
    import sys

    code = "import sys, zoo_plugins.mixers, zoo_plugins.mixers.configs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------------------------
# the plugin API: a mixer class stands alone (keyword arguments), validated as its config is
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("target,kwargs", [
    ("self_attention:SelfAttentionMixer", {"heads": 2, "causal": True}),
    ("performer:PerformerMixer", {"heads": 4, "features": 12}),
    ("gru:GRUMixer", {"causal": False, "bidirectional": True}),
    ("causal_conv:CausalConvMixer", {"kernel_size": 3, "groups": 4}),
])
def test_mixer_built_from_keywords_equals_the_registered_one(target, kwargs):
    module, _, cls = target.partition(":")
    mixer_class = getattr(importlib.import_module(f"zoo_plugins.mixers.{module}"), cls)
    torch.manual_seed(0)
    direct = mixer_class(dim=D, **kwargs).eval()
    registered = build(module, **kwargs)
    x, mask = torch.randn(2, 5, D), lengths_mask([5, 3])
    assert torch.equal(direct(x, mask), registered(x, mask))


@pytest.mark.parametrize("target,kwargs,fix", [
    ("self_attention:SelfAttentionMixer", {"heads": 5}, "heads=5 must divide dim=16; choose heads from"),
    ("causal_conv:CausalConvMixer", {"groups": 3}, "groups=3 must divide dim=16"),
    ("qrnn:QRNNMixer", {"causal": False, "kernel_size": 2}, "use an odd kernel_size"),
    ("lstm:LSTMMixer", {"reverse": True}, "set causal=false"),
])
def test_mixer_constructors_check_what_their_configs_check(target, kwargs, fix):
    module, _, cls = target.partition(":")
    mixer_class = getattr(importlib.import_module(f"zoo_plugins.mixers.{module}"), cls)
    with pytest.raises(ValueError, match=re.escape(fix)):
        mixer_class(dim=16, **kwargs)


# ---------------------------------------------------------------------------------------
# rewrites for speed keep the outputs (issue 15, memory traffic of the linear mixers)
# ---------------------------------------------------------------------------------------

def _saved_outputs():
    from pathlib import Path

    from safetensors.torch import load_file

    path = Path(__file__).with_name("data") / "mixer_outputs.safetensors"
    spec = importlib.util.spec_from_file_location("make_mixer_outputs", path.with_name("make_mixer_outputs.py"))
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    return maker, load_file(str(path))


_MAKER, _SAVED = _saved_outputs()


@pytest.mark.parametrize("variant", _MAKER.VARIANTS, ids=_id)
def test_mixers_match_their_saved_outputs(variant):
    """Outputs, input gradients and parameter gradients (padded on both sides, and unpadded:
    the fast paths) equal those of the implementation before the memory-traffic rewrite
    (tests/data/make_mixer_outputs.py wrote them at commit dc0739d)."""
    name, cfg = variant
    k = _MAKER.key(name, cfg)
    torch.manual_seed(0)
    mixer = create("mixer", name, dim=_MAKER.D, **cfg).train()
    state = {n[len(k) + 7:]: t for n, t in _SAVED.items() if n.startswith(f"{k}/state.")}
    mixer.load_state_dict(state)
    for which in ("padded", "full"):
        got = _MAKER.run(mixer, _SAVED["x"], _SAVED[f"mask_{which}"], _SAVED["weight"])
        expected = {n[len(k) + len(which) + 2:]: t for n, t in _SAVED.items() if n.startswith(f"{k}/{which}.")}
        assert set(got) == set(expected)
        for n, t in expected.items():
            scale = t.abs().max().clamp_min(1e-6)
            torch.testing.assert_close(got[n] / scale, t / scale, rtol=0, atol=2e-5, msg=lambda m: f"{which} {n}: {m}")


def test_real_first_order_is_the_stable_sort_of_the_padding_without_a_sort():
    """The permutation that moves each row's real tokens first (both in order) equals torch's
    stable sort of ~mask, on masks with holes and padding on both sides, all-padding and
    all-real rows."""
    from zoo_core.model import real_first_order

    g = torch.Generator().manual_seed(0)
    masks = [torch.rand(int(b), int(t), generator=g) < 0.6
             for b, t in torch.randint(1, 9, (200, 2), generator=g).tolist()]
    masks += [torch.tensor([[False, True, True, False], [False] * 4, [True] * 4])]
    for mask in masks:
        ref = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
        assert torch.equal(real_first_order(mask), ref)
