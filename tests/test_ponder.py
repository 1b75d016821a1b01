"""PonderNet (mixer=ponder): the halting distribution, the loss against a hand computation,
the KL term pulling the halting distribution toward the geometric prior, halting at
inference (sampled and by threshold), and the expected steps reported by evaluation."""
import math

import pytest
import torch

from zoo_core.errors import ZooError
from zoo_core.factory import create
from zoo_core.model import build
from zoo_plugins.mixers.ponder import geometric_prior, halting_distribution, ponder_loss

SMALL = ["embed=hash", "embed.num_bits=64", "embed.num_hashes=2", "pool=mean", "loss=cross_entropy",
         "optim=adam", "dim=8", "num_classes=3", "tokenizer.unit=chars", "mixer=ponder", "mixer.inner=identity"]


def test_halting_distribution_by_hand():
    lam = torch.tensor([[0.2, 0.5, 0.9]])
    # p1 = .2, p2 = .5 * .8, p3 = 1 * .8 * .5 (the last step always halts)
    torch.testing.assert_close(halting_distribution(lam), torch.tensor([[0.2, 0.4, 0.4]]))


def test_the_loss_against_a_hand_computation():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [1.0, -1.0]]])  # (B=2, N=2, C=2)
    p = torch.tensor([[0.25, 0.75], [0.6, 0.4]])
    target = torch.tensor([1, 0])
    lp, beta = 0.5, 0.1
    g = [lp, lp * (1 - lp)]
    g = [v / sum(g) for v in g]  # truncated at N=2, renormalised: [2/3, 1/3]

    def ce(row, y):
        return -(row[y] - math.log(sum(math.exp(v) for v in row)))

    total = 0.0
    for b in range(2):
        rec = sum(float(p[b, n]) * ce(logits[b, n].tolist(), int(target[b])) for n in range(2))
        kl = sum(float(p[b, n]) * math.log(float(p[b, n]) / g[n]) for n in range(2))
        total += (rec + beta * kl) / 2
    assert float(ponder_loss(logits, p, target, lp, beta)) == pytest.approx(total, rel=1e-6)
    torch.testing.assert_close(geometric_prior(lp, 2), torch.tensor(g))


def test_the_kl_term_pulls_the_halting_distribution_toward_the_prior():
    """With predictions equal at every step, only the KL term moves the halting unit: the
    distance to Geometric(lambda_p) falls and the expected number of steps approaches the prior's."""
    torch.manual_seed(0)
    mixer = create("mixer", "ponder", dim=8, inner="identity", max_steps=5, lambda_p=0.2, beta=1.0)
    with torch.no_grad():
        mixer.halting_unit.bias.fill_(2.0)  # halts almost at once: far from the prior
    x, mask = torch.randn(16, 4, 8), torch.ones(16, 4, dtype=torch.bool)
    opt = torch.optim.SGD(mixer.halting_unit.parameters(), lr=0.5)
    prior = geometric_prior(0.2, 5)
    logits = torch.zeros(16, 5, 3)
    target = torch.zeros(16, dtype=torch.long)
    mixer.train()

    def kl():
        p = mixer.halting.detach()
        return float((p * (p.log() - prior.log())).sum(-1).mean())

    mixer(x, mask)
    first = kl()
    for _ in range(200):
        mixer(x, mask)
        loss = ponder_loss(logits, mixer.halting, target, 0.2, 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mixer(x, mask)
    assert kl() < 0.1 * first
    expected = (mixer.halting.detach() * torch.arange(1, 6)).sum(-1).mean()
    assert abs(float(expected) - float((prior * torch.arange(1, 6)).sum())) < 0.2


def test_threshold_halting_at_inference_and_the_output_is_that_steps_state():
    torch.manual_seed(0)
    mixer = create("mixer", "ponder", dim=8, inner="identity", max_steps=4, halt="threshold", threshold=0.5)
    with torch.no_grad():
        mixer.halting_unit.weight.zero_()
        mixer.halting_unit.bias.fill_(math.log(0.3 / 0.7))  # lambda = 0.3: cumulative .3, .51 -> halts at step 2
    mixer.eval()
    x, mask = torch.randn(3, 5, 8), torch.ones(3, 5, dtype=torch.bool)
    out = mixer(x, mask)
    assert mixer.halt_step.tolist() == [1, 1, 1] and len(mixer.step_states) == 2  # stopped computing there
    torch.testing.assert_close(out, mixer.step_states[1])


def test_sampled_halting_stops_at_a_sampled_step_and_the_model_reports_steps():
    model = build(SMALL)
    model.eval()
    x = model.encode([list("hallo"), list("hello"), list("salut"), list("ciao")])
    with torch.no_grad():
        out = model(x)
    assert out["steps"].shape == (4,) and ((out["steps"] >= 1) & (out["steps"] <= 6)).all()
    model.train()
    out = model(x)
    assert out["step_logits"].shape == (4, 6, 3) and out["halting"].shape == (4, 6)
    loss = model.objective(out, torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert model.mixers[0].halting_unit.weight.grad.abs().sum() > 0


def test_evaluation_reports_the_mean_halting_step():
    from zoo_core.inference import evaluate_classifier

    model = build(SMALL)
    report = evaluate_classifier(model, [list("hallo"), list("hello")], [0, 1], ["a", "b", "c"])
    assert 1 <= report["ponder_steps"] <= 6


def test_ponder_must_be_the_last_mixer():
    with pytest.raises(ZooError, match="last mixer"):
        build([o for o in SMALL if not o.startswith("mixer")] + ["mixer=[ponder,identity]", "mixer.0.inner=identity"])
