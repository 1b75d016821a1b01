"""switch mixer (Fedus et al. 2021): top-1 routing scaled by the router probability, capacity
with dropped tokens, the load-balancing loss, padding never routed, the paper's init scale;
routing and balance loss against st-moe-pytorch's gating with copied router weights."""
import math

import pytest
import torch

import zoo_core
from zoo_tools.doctor import codebook_usages
from zoo_core.tasks import auxiliary_loss


def build(**cfg):
    torch.manual_seed(0)
    m = zoo_core.create("mixer", "switch", **{"dim": 8, "experts": 4, "hidden": 12, **cfg})
    with torch.no_grad():  # a router strong enough that tokens spread over the experts
        m.router.mul_(30)
    return m


def reference(m, x, mask, capacity_factor):
    """The paper's equations as a loop over the real tokens, in batch order."""
    w_r, e = m.router.detach(), m.experts
    out = torch.zeros_like(x)
    tokens = [(b, t) for b in range(x.shape[0]) for t in range(x.shape[1]) if mask[b, t]]
    n = len(tokens)
    cap = math.inf if capacity_factor is None else max(1, int(capacity_factor * n / e))
    used = [0] * e
    routed = torch.zeros(e)
    prob_sum = torch.zeros(e)
    for b, t in tokens:
        p = torch.softmax(w_r @ x[b, t], 0)
        i = int(p.argmax())
        routed[i] += 1
        prob_sum += p
        used[i] += 1
        if used[i] <= cap:
            out[b, t] = p[i] * (m.w2[i].t() @ torch.relu(m.w1[i].t() @ x[b, t]))
    aux = m.aux_weight * e * ((routed / n) * (prob_sum / n)).sum()
    return out, aux


def batch(left, seed=1):
    g = torch.Generator().manual_seed(seed)
    lengths = [7, 3, 1, 5]
    x = torch.randn(4, 7, 8, generator=g)
    pos = torch.arange(7)
    mask = torch.stack([(pos >= 7 - n) if left else (pos < n) for n in lengths])
    return x, mask


@pytest.mark.parametrize("left", [False, True])
@pytest.mark.parametrize("train,factor", [(True, 1.0), (True, 0.5), (False, None), (False, 0.75)])
def test_equals_the_papers_equations_as_a_loop(left, train, factor):
    key = "capacity_factor" if train else "eval_capacity_factor"
    m = build(**{key: factor}).train(train)
    x, mask = batch(left)
    with torch.no_grad():
        y = m(x, mask)
        want, aux = reference(m, x, mask, factor)
    assert (y - want).abs().max() < 1e-5
    assert torch.isclose(m.aux_loss, aux, atol=1e-6)
    if factor == 0.5:  # over capacity: some real tokens output exactly 0 (the residual passes them)
        dropped = (y.abs().sum(-1) == 0) & mask
        assert dropped.any() and m.codebook_usage()["dropped"] == dropped.sum().item() / mask.sum().item()


def test_output_is_scaled_by_the_router_probability_so_the_router_learns():
    """Hard argmax routing without the probability factor gives the router no gradient."""
    m = build().eval()
    x, mask = batch(False)
    y = m(x, mask)
    tokens = x[mask]
    plan = m.dispatch(tokens)
    unscaled = y[mask] / plan["gate"].unsqueeze(1)
    assert (plan["gate"] < 0.999).any() and not torch.allclose(unscaled, y[mask])
    y[mask].pow(2).sum().backward()
    assert m.router.grad.abs().sum() > 0


def test_padding_is_not_routed_counted_or_charged():
    m = build(capacity_factor=1.0).train()
    x, mask = batch(False)
    y1 = m(x, mask)
    aux1, usage1 = m.aux_loss.detach(), m.codebook_usage()
    x2 = x.clone()
    x2[~mask] = 1e3 * torch.randn(int((~mask).sum()), 8)
    y2 = m(x2, mask)
    assert torch.equal(y1, y2) and torch.equal(aux1, m.aux_loss.detach()) and usage1 == m.codebook_usage()
    assert torch.equal(y2[~mask], torch.zeros_like(y2[~mask]))
    # the same real tokens in one row, no padding: the same routing, capacity and loss
    m(x[mask][None], torch.ones(1, int(mask.sum()), dtype=torch.bool))
    assert torch.isclose(m.aux_loss, aux1)


def test_eval_without_capacity_does_not_depend_on_the_batch():
    m = build().eval()
    x, mask = batch(False)
    with torch.no_grad():
        y = m(x, mask)
        for i in range(4):
            alone = m(x[i:i + 1, : int(mask[i].sum())], mask[i:i + 1, : int(mask[i].sum())])[0]
            assert torch.allclose(alone, y[i, : int(mask[i].sum())], atol=1e-6)


def test_balance_loss_is_alpha_when_routing_is_uniform_and_reaches_the_task_loss():
    m = build(aux_weight=0.01).train()
    with torch.no_grad():
        m.router.zero_()  # p = 1/E everywhere: P_i = 1/E, so E * sum f_i P_i = 1 whatever f is
    x, mask = batch(False)
    m(x, mask)
    assert torch.isclose(m.aux_loss, torch.tensor(0.01))
    model = zoo_core.build(["mixer=[self_attention,switch]", "dim=16", "mixer.1.aux_weight=0.5"])
    model.train()
    out = model(model.encode([["a", "b", "c"], ["d"]]))
    assert out["logits"] is not None and auxiliary_loss(model) is not None
    assert torch.isclose(auxiliary_loss(model), model.mixers[1].aux_loss)


def test_init_is_the_papers_reduced_truncated_normal():
    torch.manual_seed(0)
    m = zoo_core.create("mixer", "switch", dim=64, experts=8, hidden=256)
    for w, fan_in in ((m.w1, 64), (m.w2, 256), (m.router, 64)):
        std = math.sqrt(0.1 / fan_in)
        assert w.abs().max() <= 2 * std + 1e-7
        # a normal truncated at 2 sigma has std 0.8796 sigma
        assert abs(w.std().item() / (0.8796 * std) - 1) < 0.05


def test_expert_usage_is_reported_for_zoo_doctor():
    model = zoo_core.build(["mixer=[self_attention,switch]", "dim=16", "mixer.1.experts=4"])
    model.eval()
    with torch.no_grad():
        model(model.encode([["a", "b", "c", "d", "e"], ["f", "g"]]))
    usages = codebook_usages(model)
    (name, usage), = usages.items()
    assert name == "mixers.1" and usage["size"] == 4 and 0 < usage["usage"] <= 1
    assert usage["used"] == round(usage["usage"] * 4) and 1 <= usage["perplexity"] <= 4


def test_routing_and_balance_loss_match_st_moe_pytorch():
    """st-moe-pytorch's TopNGating with the same router weights, its second expert switched off
    (threshold 1e9): same top-1 experts, same kept/dropped tokens and slots at a capacity that
    rounds the same, and its balance loss E * sum f_i P_i (with its f_i: see below). Its gates are
    renormalised over the top-n, so only the routing is compared, not the outputs."""
    st_moe = pytest.importorskip("st_moe_pytorch")
    m = build(experts=4, capacity_factor=1.0).train()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 32, 8, generator=g)
    gate = st_moe.st_moe_pytorch.TopNGating(8, num_gates=4, top_n=2, threshold_train=1e9,
                                            capacity_factor_train=1.0).train()
    with torch.no_grad():
        gate.to_gates.weight.copy_(m.router)
        dispatch, _, balance, _ = gate(x)
        plan = m.dispatch(x[0])
    slots = int(plan["slots"])
    assert slots == dispatch.shape[-1] == 8
    mine = torch.zeros(32, 4, slots)
    mine[plan["kept"], plan["expert"][plan["kept"]], plan["rank"][plan["kept"]]] = 1
    assert len(plan["kept"]) < 32  # some tokens dropped, so capacity is exercised
    assert torch.equal(dispatch[0].bool(), mine.bool())
    # st-moe counts f_i after dropping (its mask_1 is a view of the mask that capacity truncates in
    # place); the paper's Mesh TF code (and zoo) counts the argmax before dropping. Both from our plan:
    p_mean = plan["probs"].mean(0)
    f_kept = torch.bincount(plan["expert"][plan["kept"]], minlength=4).float() / 32
    assert abs(balance.item() - 4 * (f_kept * p_mean).sum().item()) < 1e-5
    f_all = plan["counts"].float() / 32
    assert abs(plan["aux"].item() / m.aux_weight - 4 * (f_all * p_mean).sum().item()) < 1e-6
    assert abs(balance.item() - plan["aux"].item() / m.aux_weight) > 1e-3  # the two definitions do differ here
