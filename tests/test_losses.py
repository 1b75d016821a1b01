"""Losses against naive loops, independent IR metric implementations (pytrec_eval) and hand
computations; the combination grammar."""
import math

import pytest
import torch
from torch.nn import functional as F

import zoo_core
from zoo_core.errors import ZooError
from zoo_plugins.losses.combined_syntax import parse_terms
from zoo_plugins.losses.approx_ndcg import approx_ndcg
from zoo_plugins.losses.conicity import conicity
from zoo_plugins.losses.mutual_information import cluster_mutual_information, two_views
from zoo_plugins.losses.smooth_ap import smooth_ap
from zoo_plugins.losses.soft_nearest_neighbor import soft_nearest_neighbor_loss
from zoo_plugins.losses.token_contrastive import token_margin_loss
from zoo_plugins.losses.triplet_cosine import triplet_cosine_loss


def outputs(pooled=None, states=None, mask=None, logits=None):
    return {"pooled": pooled, "states": states, "mask": mask, "logits": logits}


# ---- soft nearest neighbour ----------------------------------------------------------
def naive_snn(batch_x, batch_y, temp):
    """The post's loop, with the loss accumulated (the post overwrites it) and samples
    without a same-label partner skipped (their probability is 0)."""
    idx = torch.arange(len(batch_x))
    total, count = 0.0, 0
    for i in range(batch_x.shape[0]):
        label = batch_y[i]
        batch_same = batch_x[(batch_y == label) & (idx != i)]
        batch_rest = batch_x[idx != i]
        if len(batch_same) == 0:
            continue
        dists_1 = ((batch_x[i] - batch_same) ** 2).sum(dim=1)
        dists_2 = ((batch_x[i] - batch_rest) ** 2).sum(dim=1)
        prob = torch.exp(-dists_1 / temp).sum() / torch.exp(-dists_2 / temp).sum()
        assert float(prob) <= 1
        total = total - torch.log(prob)
        count += 1
    return total / count


@pytest.mark.parametrize("temp", [0.5, 2.0, 10.0])
def test_soft_nearest_neighbor_equals_the_posts_loop(temp):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 5, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 0, 1, 2, 4])  # 3 and 4 are singletons
    assert soft_nearest_neighbor_loss(x, y, temp).item() == pytest.approx(naive_snn(x, y, temp).item(), rel=1e-10)


def test_soft_nearest_neighbor_rewards_tight_classes_and_survives_far_points():
    y = torch.tensor([0, 0, 1, 1])
    tight = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    mixed = tight[[0, 2, 1, 3]]
    assert soft_nearest_neighbor_loss(tight, y).item() < 0.02
    assert soft_nearest_neighbor_loss(mixed, y).item() > 10
    far = tight * 1e3  # exp(-d²/T) underflows to 0 in a naive implementation
    assert torch.isfinite(soft_nearest_neighbor_loss(far[[0, 2, 1, 3]], y))


# ---- ranking losses vs pytrec_eval ------------------------------------------------------
def trec(scores, relevance, measure):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrel = {f"q{q}": {f"d{d}": int(r) for d, r in enumerate(row) if r > 0} for q, row in enumerate(relevance.tolist())}
    run = {f"q{q}": {f"d{d}": float(s) for d, s in enumerate(row)} for q, row in enumerate(scores.tolist())}
    result = pytrec_eval.RelevanceEvaluator(qrel, {measure}).evaluate(run)
    return torch.tensor([result[f"q{q}"][measure] for q in range(len(scores))], dtype=torch.float64)


def test_approx_ndcg_converges_to_exact_ndcg():
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(6, 15, generator=g, dtype=torch.float64)
    relevance = torch.randint(0, 4, (6, 15), generator=g)
    relevance[:, 0] = 2  # every query has a relevant document
    exact = trec(scores, relevance, "ndcg")
    errors = [(approx_ndcg(scores, relevance, t, gain="linear") - exact).abs().max().item()
              for t in (1.0, 0.1, 0.01, 1e-4, 1e-6)]
    assert errors[-1] < 1e-9
    assert errors[0] > 0.01 and errors == sorted(errors, reverse=True)


def ndcg_loop(scores, relevance, gain):
    """NDCG written out: DCG = Σ_j G(rel_j) / log2(1 + rank_j) over the exact ranking, / ideal DCG."""
    out = []
    for s, r in zip(scores.tolist(), relevance.tolist()):
        g = [(2.0 ** x - 1.0) if gain == "exponential" else float(x) for x in r]
        order = sorted(range(len(s)), key=lambda j: -s[j])
        dcg = sum(g[j] / math.log2(2 + rank) for rank, j in enumerate(order))
        idcg = sum(x / math.log2(2 + i) for i, x in enumerate(sorted(g, reverse=True)))
        out.append(dcg / idcg)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("gain", ["exponential", "linear"])
def test_approx_ndcg_gain_is_the_papers_formula(gain):
    """Issue 15: Qin et al. and allRank use the gain 2^rel - 1 (the default); linear is the post's."""
    g = torch.Generator().manual_seed(5)
    scores = torch.randn(5, 12, generator=g, dtype=torch.float64)
    relevance = torch.randint(0, 4, (5, 12), generator=g)
    relevance[:, 0] = 3
    got = approx_ndcg(scores, relevance, 1e-6, gain=gain)
    torch.testing.assert_close(got, ndcg_loop(scores, relevance, gain), rtol=0, atol=1e-9)
    if gain == "exponential":  # the default, and it differs from linear for graded relevance
        assert (ndcg_loop(scores, relevance, "linear") - got).abs().max() > 1e-3
        torch.testing.assert_close(approx_ndcg(scores, relevance, 1e-6), got)
    binary = (relevance > 1).long()  # the two gains agree for binary relevance
    torch.testing.assert_close(approx_ndcg(scores, binary, 0.1, gain=gain), approx_ndcg(scores, binary, 0.1, gain="linear"))


def test_approx_ndcg_loss_takes_the_gain_option():
    assert zoo_core.create("loss", "approx_ndcg").gain == "exponential"
    assert zoo_core.create("loss", "approx_ndcg", gain="linear").gain == "linear"
    with pytest.raises(ZooError, match="gain"):
        zoo_core.create("loss", "approx_ndcg", gain="quadratic")


def test_smooth_ap_converges_to_exact_average_precision():
    g = torch.Generator().manual_seed(4)
    scores = torch.randn(6, 20, generator=g, dtype=torch.float64)
    relevant = torch.rand(6, 20, generator=g) < 0.3
    relevant[:, 0] = True
    exact = trec(scores, relevant.int(), "map")
    assert (smooth_ap(scores, relevant, 1e-6) - exact).abs().max().item() < 1e-6
    assert (smooth_ap(scores, relevant, 0.5) - exact).abs().max().item() > 0.01


def test_ranking_losses_in_batch_are_zero_for_separated_classes_and_descend():
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    sep = F.one_hot(y, 4).double() + 0.01 * torch.randn(6, 4, dtype=torch.float64)
    for name in ("approx_ndcg", "smooth_ap"):
        loss = zoo_core.create("loss", name, temperature=1e-3)
        assert loss(outputs(pooled=sep), y).item() < 1e-6
        x = torch.randn(6, 4, requires_grad=True)
        opt = torch.optim.Adam([x], lr=0.05)
        first = loss(outputs(pooled=x), y).item()
        for _ in range(100):
            opt.zero_grad()
            zoo_core.create("loss", name)(outputs(pooled=x), y).backward()
            opt.step()
        assert loss(outputs(pooled=x), y).item() < first / 2


# ---- triplet ----------------------------------------------------------------------------
def test_triplet_cosine_by_hand():
    a, p, n = [1.0, 0.0], [0.6, 0.8], [0.8, 0.6]
    x = torch.tensor([a, p, n])
    y = torch.tensor([0, 0, 1])
    # anchors 0 and 1 (class 0); anchor 2 has no positive. cos(a,p)=0.6, cos(a,n)=0.8, cos(p,n)=0.96
    want = [0.3 - 0.6 + 0.8, 0.3 - 0.6 + 0.96]
    assert triplet_cosine_loss(x, y, 0.3).item() == pytest.approx(sum(want) / 2)
    assert triplet_cosine_loss(x, y, 0.3, "hardest").item() == pytest.approx(sum(want) / 2)
    # positives far closer than negatives: no loss
    assert triplet_cosine_loss(torch.tensor([a, a, [0.0, 1.0]]), y, 0.3).item() == 0.0


def test_triplet_cosine_hardest_picks_the_hardest_pair():
    x = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [1.0, 0.5], [-1.0, 0.0]])
    y = torch.tensor([0, 0, 0, 1, 1])
    cos = F.normalize(x, dim=-1) @ F.normalize(x, dim=-1).t()
    want = torch.relu(0.3 - cos[0, 2] + cos[0, 3])  # anchor 0: farthest positive 2, closest negative 3
    per_anchor = []
    for i in range(5):
        pos = [j for j in range(5) if j != i and y[j] == y[i]]
        neg = [j for j in range(5) if y[j] != y[i]]
        per_anchor.append(torch.relu(0.3 - cos[i, pos].min() + cos[i, neg].max()))
    assert per_anchor[0] == pytest.approx(want.item())
    assert triplet_cosine_loss(x, y, 0.3, "hardest").item() == pytest.approx(torch.stack(per_anchor).mean().item())


# ---- prototypical ---------------------------------------------------------------------
def test_prototypical_is_cross_entropy_over_distances_to_support_means():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([2, 0, 2, 0, 2, 0, 5, 5, 5])
    loss = zoo_core.create("loss", "prototypical", shots=1)
    got = loss(outputs(pooled=x), y)
    support = [0, 1, 6]  # first example of classes 2, 0, 5 in batch order
    classes = torch.tensor([0, 2, 5])
    protos = torch.stack([x[support][torch.tensor([2, 0, 5])[[0, 1, 2]] == c][0] for c in classes])
    queries = [i for i in range(9) if i not in support]
    logits = -((x[queries].unsqueeze(1) - protos.unsqueeze(0)) ** 2).sum(-1)
    target = torch.tensor([{0: 0, 2: 1, 5: 2}[int(y[i])] for i in queries])
    assert got.item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-10)


# ---- mutual information ---------------------------------------------------------------
def test_cluster_mutual_information_limits():
    k = 4
    eye = torch.eye(k).repeat(8, 1)  # both views agree, clusters used uniformly: I = log K
    assert cluster_mutual_information(eye, eye).item() == pytest.approx(math.log(k), abs=1e-5)
    uniform = torch.full((32, k), 1 / k)  # no information
    assert cluster_mutual_information(eye, uniform).item() == pytest.approx(0.0, abs=1e-6)
    collapsed = torch.zeros(32, k)
    collapsed[:, 0] = 1  # everything in one cluster: no information either (no collapse reward)
    assert cluster_mutual_information(collapsed, collapsed).item() == pytest.approx(0.0, abs=1e-6)


def mi_outputs(seed=0, b=6, t=5, d=4):
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(b, t, d, generator=g, dtype=torch.float64)
    mask = torch.arange(t).unsqueeze(0) < torch.tensor([5, 3, 1, 4, 2, 5]).unsqueeze(1)
    return outputs(states=states, mask=mask)


def mi_loss(**cfg):
    torch.manual_seed(0)
    return zoo_core.create("loss", "mutual_information", dim=4, clusters=3, **cfg).double()


def test_mutual_information_default_is_the_papers_variational_bound():
    """Issue 15: Stratos (2019) recommends, and mmi-tagger's Loss implements,
    H(p(Z|future), q(Z|past)) - H(mean_b p(Z|future_b)) with the post's temperature 0.1."""
    loss = mi_loss()
    out = mi_outputs()
    past, future = two_views(out["states"], out["mask"])
    loss.requires_grad_(False)
    tau, B, K = 0.1, 6, 3
    cross, marginal = 0.0, [0.0] * K
    for b in range(B):
        pl = [float(x) / tau for x in loss.past(past[b])]
        fl = [float(x) / tau for x in loss.future(future[b])]
        p = [math.exp(x) / sum(math.exp(y) for y in fl) for x in fl]  # p(z | future_b)
        log_q = [x - math.log(sum(math.exp(y) for y in pl)) for x in pl]  # log q(z | past_b)
        cross -= sum(p[z] * log_q[z] for z in range(K)) / B
        for z in range(K):
            marginal[z] += p[z] / B
    entropy = -sum(m * math.log(m) for m in marginal)
    assert loss(out, None).item() == pytest.approx(cross - entropy, rel=1e-10)
    labels = [max(range(K), key=lambda z: float(loss.future(future[b])[z])) for b in range(B)]
    assert loss.clusters(out).tolist() == labels  # clusters labelled by the future view


@pytest.mark.parametrize("tau", [1.0, 0.1])
def test_mutual_information_joint_option_is_the_batch_joint_mi(tau):
    loss = mi_loss(objective="joint", temperature=tau)
    out = mi_outputs(1)
    past, future = two_views(out["states"], out["mask"])
    q = (loss.past(past) / tau).softmax(-1).tolist()
    p = (loss.future(future) / tau).softmax(-1).tolist()
    B, K = 6, 3
    joint = [[sum(q[b][z] * p[b][w] for b in range(B)) / B for w in range(K)] for z in range(K)]
    pz = [sum(row) for row in joint]
    pw = [sum(joint[z][w] for z in range(K)) for w in range(K)]
    mi = sum(joint[z][w] * math.log(joint[z][w] / (pz[z] * pw[w])) for z in range(K) for w in range(K))
    assert loss(out, None).item() == pytest.approx(-mi, rel=1e-8)


def test_mutual_information_rejects_an_unknown_objective():
    with pytest.raises(ZooError, match="objective"):
        zoo_core.create("loss", "mutual_information", objective="brown")


def test_mutual_information_views_ignore_padding():
    states = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    past, future = two_views(states, mask)
    assert past.flatten().tolist() == [0.5, 4.0] and future.flatten().tolist() == [2.0, 4.0]


# ---- token regularisers ---------------------------------------------------------------
def test_token_contrastive_is_the_posts_pdist_formula_and_ignores_padding():
    g = torch.Generator().manual_seed(0)
    states = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    margin = 3.0
    per_seq = [torch.clamp(margin - torch.pdist(states[b][mask[b]]) ** 2, min=0) for b in range(2)]
    want = torch.cat(per_seq).mean()
    assert token_margin_loss(states, mask, margin, normalize=False).item() == pytest.approx(want.item(), rel=1e-10)
    moved = states.clone()
    moved[1, 3:] = 100.0
    assert token_margin_loss(moved, mask, margin, normalize=False).item() == pytest.approx(want.item(), rel=1e-10)


def test_conicity_of_aligned_and_orthogonal_states():
    d = 4
    mask = torch.ones(1, d, dtype=torch.bool)
    aligned = torch.ones(1, d, d) * torch.arange(1, d + 1).view(1, d, 1)
    assert conicity(aligned, mask).item() == pytest.approx(1.0)
    basis = torch.eye(d).unsqueeze(0)
    assert conicity(basis, mask).item() == pytest.approx(1 / math.sqrt(d))
    padded = torch.cat([basis, torch.ones(1, 2, d) * 50], 1)
    assert conicity(padded, torch.tensor([[True] * d + [False, False]])).item() == pytest.approx(1 / math.sqrt(d))


# ---- combination ----------------------------------------------------------------------
def test_parse_terms():
    assert parse_terms("cross_entropy+0.1*token_contrastive") == [(1.0, "cross_entropy"), (0.1, "token_contrastive")]
    assert parse_terms("2e-1*conicity + zoo-nlp:cross_entropy") == [(0.2, "conicity"), (1.0, "zoo-nlp:cross_entropy")]
    assert parse_terms("1e+1*conicity") == [(10.0, "conicity")]
    with pytest.raises(ZooError, match="cannot read term"):
        parse_terms("cross_entropy+*x")


def test_combined_loss_sums_weighted_terms_and_keeps_the_head():
    from zoo_tools.testing import fake_outputs

    model = zoo_core.build(["loss=cross_entropy+0.1*token_contrastive", "loss.margin=0.5", "loss.label_smoothing=0.1"])
    assert model.head is not None
    terms = model.spec.loss.config["terms"]
    assert [(t["loss"]["name"], t["weight"]) for t in terms] == [("cross_entropy", 1.0), ("token_contrastive", 0.1)]
    assert terms[0]["loss"]["config"]["label_smoothing"] == 0.1 and terms[1]["loss"]["config"]["margin"] == 0.5
    assert all(t["loss"]["dist"] == "zoo-nlp" and t["loss"]["version"] for t in terms)  # each term pinned
    out, target = fake_outputs(dim=16)
    ce = zoo_core.create("loss", "cross_entropy", label_smoothing=0.1)(out, target)
    tc = zoo_core.create("loss", "token_contrastive", margin=0.5)(out, target)
    assert model.loss(out, target).item() == pytest.approx(ce.item() + 0.1 * tc.item(), rel=1e-6)
    headless = zoo_core.build(["loss=0.5*approx_ndcg+triplet_cosine"])
    assert headless.head is None and headless.loss.weights == [0.5, 1.0]


def test_combined_loss_survives_a_checkpoint(tmp_path):
    model = zoo_core.build(["loss=cross_entropy+0.2*mutual_information", "loss.clusters=3"])
    model.labels = ["a", "b"]
    model.save(tmp_path)
    text = (tmp_path / "config.json").read_text()
    assert "zoo_plugins" not in text and "combined" in text
    again = zoo_core.load(tmp_path)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert "loss.terms.1.past.weight" in dict(again.named_parameters())


def test_combined_loss_errors_name_the_problem():
    with pytest.raises(ZooError) as e:
        zoo_core.build(["loss=cross_entrpy+0.1*conicity", "loss.nope=1"])
    text = str(e.value)
    assert "did you mean 'cross_entropy'" in text and "loss.nope" in text
    with pytest.raises(ZooError, match="cannot be a term"):
        zoo_core.build(["loss=cross_entropy+combined"])


def test_loss_classes_stand_alone_with_their_config_fields_as_attributes():
    from zoo_plugins.losses.cross_entropy import CrossEntropyLoss
    from zoo_plugins.losses.prototypical import PrototypicalLoss

    logits, target = torch.randn(4, 3), torch.tensor([0, 2, 1, 2])
    direct = CrossEntropyLoss(label_smoothing=0.2)
    assert direct.label_smoothing == 0.2  # diagnostics read the loss floor from it
    assert torch.equal(direct({"logits": logits}, target),
                       zoo_core.create("loss", "cross_entropy", label_smoothing=0.2)({"logits": logits}, target))
    assert torch.equal(direct({"logits": logits}, target),
                       F.cross_entropy(logits, target, label_smoothing=0.2))
    proto = PrototypicalLoss(distance="cosine", shots=1)
    assert (proto.shots, proto.distance, proto.scale) == (1, "cosine", 10.0)
