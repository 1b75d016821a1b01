"""Every registered component, from any installed distribution, against its kind's contract."""
import pytest

import zoo_core
from zoo_tools.testing import assert_contract, check_component

COMPONENTS = [(c.kind, f"{c.dist}:{c.name}") for c in zoo_core.list_components("*")]
# non-default configs for the kit: a component frozen by default has no gradient to check
# (tests/test_hyperdimensional.py runs the kit on its default too, all checks but that one)
CONFIGS = {("embed", "hyperdimensional"): {"projection": "learned"}}


# every component whose config has a causal switch, also with it on: the kit then checks
# causality by values (the attribute ``causal`` declares the form)
CAUSAL = [(c.kind, f"{c.dist}:{c.name}") for c in zoo_core.list_components("*")
          if "causal" in getattr(c.config, "model_fields", {})]


@pytest.mark.parametrize("kind,name", COMPONENTS, ids=[f"{k}:{n.split(':')[-1]}" for k, n in COMPONENTS])
def test_component_meets_its_contract(kind, name):
    assert_contract(kind, name, **CONFIGS.get((kind, name.split(":")[-1]), {}))


@pytest.mark.parametrize("kind,name", CAUSAL, ids=[f"{k}:{n.split(':')[-1]}" for k, n in CAUSAL])
def test_causal_form_meets_its_contract(kind, name):
    assert_contract(kind, name, causal=True)


def test_kit_catches_a_mixer_that_leaks_padding(monkeypatch):
    """The kit itself must fail a plausible wrong implementation: a mixer that averages
    over all positions, padding included."""
    from zoo_plugins.mixers import identity

    def leaky(self, x, mask):
        return x + x.mean(dim=1, keepdim=True)

    monkeypatch.setattr(identity.IdentityMixer, "forward", leaky)
    failed = {r.check for r in check_component("mixer", "identity") if not r.ok}
    assert "padding" in failed


def test_kit_catches_a_pooler_whose_weights_cover_padding(monkeypatch):
    import torch

    from zoo_plugins.poolers import mean

    def unmasked(self, x, mask):
        w = torch.full(mask.shape, 1.0 / mask.shape[1])
        return (w.unsqueeze(-1) * x).sum(1), w

    monkeypatch.setattr(mean.MeanPooler, "forward", unmasked)
    failed = {r.check for r in check_component("pool", "mean") if not r.ok}
    assert {"shapes", "padding"} <= failed


def test_kit_catches_dead_parameters(monkeypatch):
    from zoo_plugins.mixers import lambda_layer

    def skips_values(self, x, mask):
        return self.to_q(x)[..., : self.dim] * 0 + x

    monkeypatch.setattr(lambda_layer.LambdaMixer, "forward", skips_values)
    failed = {r.check: r.detail for r in check_component("mixer", "lambda", heads=1, dim_k=16) if not r.ok}
    assert "to_k.weight" in failed["gradients"] and "to_v.weight" in failed["gradients"]


def test_kit_checks_causality_by_values(monkeypatch):
    """A mixer whose gradient to later positions is exactly 0 but whose values depend on them:
    a detached shift by the maximum over the whole sequence (the bug of issue 15's lambda)."""
    from zoo_plugins.mixers import identity

    def leaks_by_value(self, x, mask):
        shift = x.detach().amax(dim=1, keepdim=True)  # over ALL positions, later ones included
        return (x - shift).exp() * shift.exp()  # == exp(x) in exact arithmetic; underflows in float32

    monkeypatch.setattr(identity.IdentityMixer, "forward", leaks_by_value)
    monkeypatch.setattr(identity.IdentityMixer, "causal", True, raising=False)
    failed = {r.check: r.detail for r in check_component("mixer", "identity") if not r.ok}
    assert "causal_values" in failed and "x1e3" in failed["causal_values"]


def test_kit_checks_left_padding_and_honours_needs_right_padding(monkeypatch):
    """A mixer with weights tied to row positions (as gmlp before issue 15) fails with left
    padding, unless it declares needs_right_padding."""
    import torch

    from zoo_plugins.mixers import identity

    def position_tied(self, x, mask):
        return (x + torch.arange(x.shape[1], dtype=x.dtype).view(1, -1, 1)) * mask.unsqueeze(-1)

    monkeypatch.setattr(identity.IdentityMixer, "forward", position_tied)
    failed = {r.check for r in check_component("mixer", "identity") if not r.ok}
    assert "padding_side" in failed
    monkeypatch.setattr(identity.IdentityMixer, "needs_right_padding", True, raising=False)
    assert all(r.ok for r in check_component("mixer", "identity"))


def test_composer_gives_right_padding_to_components_that_need_it(monkeypatch):
    """Token dropout leaves holes in the mask; a mixer and a pooler declaring
    needs_right_padding get real tokens first, and their outputs go back to their positions."""
    import torch

    from zoo_plugins.mixers import identity
    from zoo_plugins.poolers import mean

    seen = []
    plain_mix, plain_pool = identity.IdentityMixer.forward, mean.MeanPooler.forward

    def record_mix(self, x, mask):
        seen.append(mask.clone())
        return plain_mix(self, x, mask) + torch.arange(x.shape[1], dtype=x.dtype).view(1, -1, 1)

    def record_pool(self, x, mask):
        seen.append(mask.clone())
        return plain_pool(self, x, mask)

    monkeypatch.setattr(identity.IdentityMixer, "forward", record_mix)
    monkeypatch.setattr(mean.MeanPooler, "forward", record_pool)
    for cls in (identity.IdentityMixer, mean.MeanPooler):
        monkeypatch.setattr(cls, "needs_right_padding", True, raising=False)
    model = zoo_core.build(["mixer=identity", "pool=mean", "dim=8", "token_dropout=0.5"]).train()
    torch.manual_seed(0)
    inputs = model.encode([["a", "b", "c", "d", "e", "f"], ["g", "h", "i"]])
    out = model(inputs)
    holes = out["mask"]
    assert not torch.equal(holes, torch.arange(6) < holes.sum(1, keepdim=True))  # dropout made holes
    for mask in seen:  # every call saw real tokens first
        assert torch.equal(mask, torch.arange(mask.shape[1]) < mask.sum(1, keepdim=True))
    # outputs went back: the k-th real token of a sequence got position k's offset
    from zoo_core.model import call_right_padded

    mixer = model.mixers[0]
    x = torch.zeros(2, 6, 8)
    y = call_right_padded(mixer, x, holes)
    for b in range(2):
        real = holes[b].nonzero().flatten()
        assert y[b, real, 0].tolist() == list(range(len(real)))
