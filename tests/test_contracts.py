"""Every registered component, from any installed distribution, against its kind's contract."""
import pytest

import zoo_core
from zoo_core.testing import assert_contract, check_component

COMPONENTS = [(c.kind, f"{c.dist}:{c.name}") for c in zoo_core.list_components("*")]
# non-default configs for the kit: a component frozen by default has no gradient to check
# (tests/test_hyperdimensional.py runs the kit on its default too, all checks but that one)
CONFIGS = {("embed", "hyperdimensional"): {"projection": "learned"}}


@pytest.mark.parametrize("kind,name", COMPONENTS, ids=[f"{k}:{n.split(':')[-1]}" for k, n in COMPONENTS])
def test_component_meets_its_contract(kind, name):
    assert_contract(kind, name, **CONFIGS.get((kind, name.split(":")[-1]), {}))


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
