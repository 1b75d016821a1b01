"""Poolers (mean, max, last, seed_attention, latent_attention, prototype_attention).

Each test checks behaviour a plausible wrong implementation would get wrong: padding that
leaks, weights that are not a distribution, dot products where the post asks for cosines,
dropout after the softmax, an order-dependent set function, a centre that is not the mean
when nothing stands out.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

import zoo_core
from zoo_tools.testing import assert_contract

LENGTHS = [5, 3, 1]


def make(name, dim=8, **cfg):
    torch.manual_seed(0)
    return zoo_core.create("pool", name, dim=dim, **cfg)


def batch(dim=8, lengths=LENGTHS, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), dim, generator=g)
    mask = torch.arange(max(lengths)).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return x, mask


def poison_padding(x, mask, value=1e4):
    y = x.clone()
    y[~mask] = value
    return y


def assert_distribution(weights, mask):
    w = weights if weights.dim() == 3 else weights.unsqueeze(1)
    m = mask.unsqueeze(1).expand_as(w)
    assert (w[~m] == 0).all(), "weights must be exactly 0 on padding"
    assert (w[m] >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


# ---- mean, max, last -------------------------------------------------------------------
def test_mean_averages_the_real_tokens_only():
    x, mask = batch()
    pooled, weights = make("mean")(poison_padding(x, mask), mask)
    for i, n in enumerate(LENGTHS):
        torch.testing.assert_close(pooled[i], x[i, :n].mean(0))
    assert_distribution(weights, mask)


def test_max_takes_the_max_over_real_tokens_only():
    x, mask = batch()
    pooler = make("max")
    pooled, weights = pooler(poison_padding(x, mask, 1e4), mask)  # padding would win every max
    for i, n in enumerate(LENGTHS):
        torch.testing.assert_close(pooled[i], x[i, :n].max(0).values)
    assert_distribution(weights, mask)
    # weights: the share of dimensions each token supplied
    winners = x[0, :5].argmax(0)
    torch.testing.assert_close(weights[0], torch.bincount(winners, minlength=5).float() / 8)
    assert weights[2].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_max_gradient_flows_to_the_winning_tokens():
    x, mask = batch()
    x.requires_grad_(True)
    pooled, _ = make("max")(x, mask)
    pooled.sum().backward()
    assert x.grad[~mask].abs().sum() == 0
    assert x.grad[0].sum() == 8  # one winner per dimension


def test_last_takes_the_last_real_token_for_any_padding_layout():
    x, mask = batch()
    pooler = make("last")
    pooled, weights = pooler(poison_padding(x, mask), mask)
    for i, n in enumerate(LENGTHS):
        torch.testing.assert_close(pooled[i], x[i, n - 1])
    assert_distribution(weights, mask)
    torch.testing.assert_close(pooled, torch.einsum("bt,btd->bd", weights, poison_padding(x, mask, 0)))
    left = torch.tensor([[False, False, True, True, False]])  # left padding and a hole
    pooled, weights = pooler(x[:1], left)
    torch.testing.assert_close(pooled[0], x[0, 3])
    assert weights.tolist() == [[0.0, 0.0, 0.0, 1.0, 0.0]]


# ---- seed attention --------------------------------------------------------------------
def test_seed_attention_weights_are_a_distribution_over_real_tokens():
    x, mask = batch()
    pooler = make("seed_attention")
    pooled, weights = pooler(poison_padding(x, mask), mask)
    assert weights.shape == (3, 5)
    assert_distribution(weights, mask)
    assert weights[2, 0] == 1.0
    clean, _ = pooler(x, mask)
    torch.testing.assert_close(pooled, clean)  # padding changes nothing


def test_seed_attention_output_is_weights_times_the_tokens():
    """No value projection: the pooled vector lives in the tokens' own space."""
    x, mask = batch()
    pooled, weights = make("seed_attention")(x, mask)
    torch.testing.assert_close(pooled, torch.einsum("bt,btd->bd", weights, x))
    pooled, weights = make("seed_attention", heads=2)(x, mask)
    assert weights.shape == (3, 2, 5)
    assert_distribution(weights, mask)
    want = torch.einsum("bht,bthd->bhd", weights, x.view(3, 5, 2, 4)).reshape(3, 8)
    torch.testing.assert_close(pooled, want)


def test_seed_attention_identical_tokens_get_uniform_weights():
    x = torch.randn(1, 1, 8).expand(2, 6, 8).clone()
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    pooled, weights = make("seed_attention")(x, mask)
    torch.testing.assert_close(weights[0], torch.full((6,), 1 / 6))
    torch.testing.assert_close(weights[1], torch.tensor([0.25] * 4 + [0.0] * 2))
    torch.testing.assert_close(pooled, x[:, 0])


def test_seed_attention_scores_are_scaled_cosines():
    """Cosine scoring: rescaling a token does not change its weight (a dot product would);
    the weights follow softmax(scale * cos(seed, W_k x)) exactly."""
    x, mask = batch()
    pooler = make("seed_attention", scale=7.0)
    _, weights = pooler(x, mask)
    _, rescaled = pooler(x * torch.tensor([100.0, 0.01, 3.0, 1, 1]).view(1, 5, 1), mask)
    torch.testing.assert_close(weights, rescaled)
    cos = F.cosine_similarity(pooler.to_k(x), pooler.seed.view(1, 1, 8), dim=-1)
    want = (7.0 * cos).masked_fill(~mask, float("-inf")).softmax(-1)
    torch.testing.assert_close(weights, want)


def test_seed_attention_has_no_dropout_after_the_softmax():
    x, mask = batch()
    pooler = make("seed_attention")
    pooler.train()
    first, second = pooler(x, mask), pooler(x, mask)
    assert torch.equal(first[1], second[1]) and torch.equal(first[0], second[0])


# ---- latent attention ------------------------------------------------------------------
def shuffle(x, mask, seed):
    """The same sets, with the real tokens of each row in another order."""
    g = torch.Generator().manual_seed(seed)
    y = x.clone()
    for i, n in enumerate(mask.sum(1).tolist()):
        y[i, :n] = x[i, torch.randperm(n, generator=g)]
    return y


@pytest.mark.parametrize("cfg", [{}, {"reduce": "mean", "heads": 2, "scoring": "cosine"}, {"mlp_ratio": 0}])
def test_latent_attention_is_permutation_invariant(cfg):
    """"Contextual Prototype Memory": f(x1, x2, x3) == f(x1, x3, x2)."""
    x, mask = batch()
    pooler = make("latent_attention", **cfg)
    pooled, weights = pooler(x, mask)
    for seed in range(3):
        again, _ = pooler(shuffle(x, mask, seed), mask)
        torch.testing.assert_close(again, pooled, atol=1e-5, rtol=1e-5)
    assert_distribution(weights, mask)


def test_latent_attention_output_size_flatten_or_mean():
    x, mask = batch()
    flat = make("latent_attention", num_latents=3)
    mean = make("latent_attention", num_latents=3, reduce="mean")
    assert flat.out_dim == 24 and mean.out_dim == 8
    a, wa = flat(x, mask)
    b, wb = mean(x, mask)
    assert a.shape == (3, 24) and b.shape == (3, 8) and wa.shape == (3, 3, 5)
    torch.testing.assert_close(b, a.view(3, 3, 8).mean(1))  # same weights (same seed): mean of the latents


def test_latent_attention_matches_a_reference_cross_attention():
    """The Perceiver block against torch's scaled_dot_product_attention."""
    x, mask = batch()
    p = make("latent_attention", num_latents=2, heads=2)
    pooled, weights = p(x, mask)
    tokens = p.norm_tokens(x)
    q = p.to_q(p.norm_latents(p.latents)).view(1, 2, 2, 4).transpose(1, 2).expand(3, -1, -1, -1)
    k = p.to_k(tokens).view(3, 5, 2, 4).transpose(1, 2)
    v = p.to_v(tokens).view(3, 5, 2, 4).transpose(1, 2)
    attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    y = p.latents + p.to_out(attended.transpose(1, 2).reshape(3, 2, 8))
    y = y + p.mlp(y)
    torch.testing.assert_close(pooled, y.flatten(1))
    scores = torch.einsum("bhld,bhtd->bhlt", q, k) / math.sqrt(4)
    torch.testing.assert_close(weights, scores.masked_fill(~mask[:, None, None], float("-inf")).softmax(-1).mean(1))


def test_a_model_without_positions_is_order_free_with_latent_attention():
    tokens = [["the", "cat", "sat", "down"]]
    reordered = [["sat", "down", "the", "cat"]]
    for pos, invariant in (("none", True), ("sinusoidal", False)):
        overrides = ["embed=hash", "mixer=identity", "pool=latent_attention", "dim=16"]
        model = zoo_core.build(overrides + ([f"pos={pos}"] if pos != "none" else []))
        model.eval()
        with torch.no_grad():
            a = model(model.encode(tokens))["pooled"]
            b = model(model.encode(reordered))["pooled"]
        assert torch.allclose(a, b, atol=1e-5) == invariant, pos


# ---- prototype attention ---------------------------------------------------------------
def test_prototype_attention_is_the_plain_mean_when_scores_are_equal():
    x, mask = batch()
    pooler = make("prototype_attention")
    with torch.no_grad():
        pooler.to_k.weight.zero_()  # every key the same: every score the same
    pooled, weights = pooler(poison_padding(x, mask), mask)
    for i, n in enumerate(LENGTHS):
        torch.testing.assert_close(pooled[i], x[i, :n].mean(0))
    support = torch.randn(4, 6, 8)
    centres = pooler.centres(torch.randn(5, 8), support)
    assert centres.shape == (5, 4, 8)
    torch.testing.assert_close(centres, support.mean(1).expand(5, -1, -1))


def test_prototype_attention_centres_follow_the_formula():
    pooler = make("prototype_attention", scale=5.0)
    with torch.no_grad():
        pooler.to_q.weight.copy_(torch.randn(8, 8))
        pooler.to_k.weight.copy_(torch.randn(8, 8))
    query, support = torch.randn(3, 8), torch.randn(2, 4, 8)
    centres, weights = pooler.centres(query, support, return_weights=True)
    for q in range(3):
        for n in range(2):
            cos = F.cosine_similarity(pooler.to_q(query[q]).view(1, 8), pooler.to_k(support[n]), dim=-1)
            a = torch.softmax(5.0 * cos, dim=0)
            torch.testing.assert_close(weights[q, n], a)
            torch.testing.assert_close(centres[q, n], a @ support[n])
    single = pooler.centres(query, support[0])  # one (K, D) support set
    torch.testing.assert_close(single, centres[:, :1])


def test_prototype_attention_centre_moves_towards_the_query():
    """Identity projections at the start: a query equal to one support item pulls the
    centre towards it, more so with a larger scale; the mean is the scale-0 limit."""
    support = torch.eye(4, 8) * 3
    query = support[2:3]
    mean = support.mean(0)
    far = (mean - support[2]).norm()
    sharp = make("prototype_attention", scale=20.0).centres(query, support)[0, 0]
    soft = make("prototype_attention", scale=1.0).centres(query, support)[0, 0]
    assert (sharp - support[2]).norm() < (soft - support[2]).norm() < far
    assert (sharp - support[2]).norm() < 0.01


def test_prototype_attention_ragged_support_sets():
    pooler = make("prototype_attention")
    query, support = torch.randn(2, 8), torch.randn(2, 5, 8)
    support_mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    poisoned = support.clone()
    poisoned[1, 3:] = 1e4
    got = pooler.centres(query, poisoned, support_mask)
    torch.testing.assert_close(got[:, 1], pooler.centres(query, support[1, :3])[:, 0])
    torch.testing.assert_close(got[:, 0], pooler.centres(query, support[0])[:, 0])


@pytest.mark.parametrize("query", ["learned", "mean"])
def test_prototype_attention_as_a_pooler(query):
    x, mask = batch()
    pooler = make("prototype_attention", query=query)
    pooled, weights = pooler(poison_padding(x, mask), mask)
    assert_distribution(weights, mask)
    torch.testing.assert_close(pooled, torch.einsum("bt,btd->bd", weights, poison_padding(x, mask, 0)))
    if query == "mean":  # the pooler is the centre of the sequence conditioned on its own mean
        for i, n in enumerate(LENGTHS):
            want = pooler.centres(x[i, :n].mean(0, keepdim=True), x[i, :n])[0, 0]
            torch.testing.assert_close(pooled[i], want)
    else:  # a learned query: pointed at one token, the weights peak there
        with torch.no_grad():
            pooler.query.copy_(x[0, 2])
        _, weights = pooler(x, mask)
        assert weights[0].argmax() == 2 and weights[0, 2] > 0.5


# ---- contracts with non-default options -------------------------------------------------
@pytest.mark.parametrize("name,cfg", [
    ("seed_attention", {"heads": 4, "scale": 1.0}),
    ("latent_attention", {"num_latents": 1, "reduce": "mean"}),
    ("latent_attention", {"heads": 2, "scoring": "cosine", "mlp_ratio": 0}),
    ("prototype_attention", {"query": "mean", "scale": 3.0}),
], ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()))
def test_options_meet_the_contract(name, cfg):
    assert_contract("pool", name, **cfg)


def test_heads_must_divide_dim():
    with pytest.raises(zoo_core.ZooError, match="heads"):
        zoo_core.create("pool", "latent_attention", dim=10, heads=3)


def test_pooler_classes_stand_alone_and_check_heads():
    from zoo_plugins.poolers.latent_attention import LatentAttentionPooler
    from zoo_plugins.poolers.seed_attention import SeedAttentionPooler

    torch.manual_seed(0)
    direct = SeedAttentionPooler(dim=8, heads=2, scale=5.0)
    torch.manual_seed(0)
    registered = zoo_core.create("pool", "seed_attention", dim=8, heads=2, scale=5.0)
    x, mask = torch.randn(2, 4, 8), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert all(torch.equal(a, b) for a, b in zip(direct(x, mask), registered(x, mask)))
    assert LatentAttentionPooler(dim=8, num_latents=3).out_dim == 24
    with pytest.raises(ValueError, match=r"heads=3 must divide dim=8; choose heads from \[1, 2, 4, 8\]"):
        LatentAttentionPooler(dim=8, heads=3)
    with pytest.raises(zoo_core.ZooError, match="choose heads from"):
        zoo_core.create("pool", "seed_attention", dim=8, heads=3)
