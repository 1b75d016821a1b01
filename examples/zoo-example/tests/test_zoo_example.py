"""zoo-example's own tests: zoo's contract kit on both components, then what the kit cannot
know (each method's equations, causality, config errors). Run them with ``pytest`` after
``pip install -e .``."""
import subprocess
import sys

import pytest
import torch
from pydantic import ValidationError

from zoo_core import create
from zoo_tools.testing import assert_contract
from zoo_example.configs import PowerMeanConfig, TokenShiftConfig


@pytest.mark.parametrize("kind, name, config", [
    ("mixer", "token_shift", {}),
    ("mixer", "token_shift", {"expand": 1, "mix_init": 1.0}),
    ("pool", "power_mean", {}),
    ("pool", "power_mean", {"powers": [1, 3, "max"]}),
])
def test_contract(kind, name, config):
    assert_contract(kind, name, **config)


def test_token_shift_is_causal_and_sees_exactly_one_token_back():
    mixer = create("mixer", "token_shift", dim=8).eval()
    mask = torch.ones(1, 6, dtype=torch.bool)
    x = torch.randn(1, 6, 8, requires_grad=True)
    mixer(x, mask)[0, 3].sum().backward()
    touched = (x.grad[0].abs().sum(-1) > 0).tolist()
    assert touched == [False, False, True, True, False, False]


def test_token_shift_matches_the_rwkv_equations():
    mixer = create("mixer", "token_shift", dim=4, expand=2, mix_init=0.25).eval()
    x, mask = torch.randn(2, 5, 4), torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        got = mixer(x, mask)
        for b in range(2):
            for t in range(int(mask[b].sum())):
                prev = x[b, t - 1] if t else torch.zeros(4)
                k, r = 0.25 * x[b, t] + 0.75 * prev, 0.25 * x[b, t] + 0.75 * prev
                want = torch.sigmoid(mixer.receptance.weight @ r) * (mixer.value.weight @ torch.relu(mixer.key.weight @ k) ** 2)
                torch.testing.assert_close(got[b, t], want)


def test_power_means_by_hand():
    pooler = create("pool", "power_mean", dim=2, powers=[1, 3, "max", "min"])
    assert pooler.out_dim == 8
    x = torch.tensor([[[1.0, -2.0], [2.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    pooled, weights = pooler(x, mask)
    cubic = torch.tensor([(1 + 8) / 2, (-8 + 64) / 2]) ** (1 / 3)
    want = torch.cat([torch.tensor([1.5, 1.0]), cubic, torch.tensor([2.0, 4.0]), torch.tensor([1.0, -2.0])])
    torch.testing.assert_close(pooled[0], want, atol=1e-5, rtol=1e-5)
    assert weights is None


def test_odd_power_keeps_the_sign():
    pooler = create("pool", "power_mean", dim=1, powers=[3])
    pooled, _ = pooler(torch.tensor([[[-2.0], [-1.0]]]), torch.ones(1, 2, dtype=torch.bool))
    assert pooled.item() == pytest.approx(-(4.5 ** (1 / 3)), rel=1e-5)


@pytest.mark.parametrize("cls, config, message", [
    (PowerMeanConfig, {"powers": [0]}, "integer powers must be positive"),
    (PowerMeanConfig, {"powers": [1, 1]}, "each mean may appear once"),
    (PowerMeanConfig, {"powers": ["median"]}, "powers"),
    (PowerMeanConfig, {"powers": []}, "at least 1"),
    (TokenShiftConfig, {"mix_init": 1.5}, "less than or equal to 1"),
    (TokenShiftConfig, {"heads": 2}, "Extra inputs are not permitted"),
])
def test_bad_configs_are_refused_with_the_reason(cls, config, message):
    with pytest.raises(ValidationError, match=message):
        cls(**config)


def test_registration_module_does_not_import_torch():
    code = "import sys, zoo_example, zoo_example.configs; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_components_stand_alone_and_cite_from_their_docstrings():
    import zoo_core
    from zoo_example.power_mean import PowerMeanPooler
    from zoo_example.token_shift import TokenShiftMixer

    torch.manual_seed(0)
    direct = TokenShiftMixer(dim=4, expand=3, mix_init=0.25).eval()
    torch.manual_seed(0)
    registered = create("mixer", "token_shift", dim=4, expand=3, mix_init=0.25).eval()
    x, mask = torch.randn(2, 3, 4), torch.tensor([[True, True, False], [True, True, True]])
    assert torch.equal(direct(x, mask), registered(x, mask))
    assert PowerMeanPooler(dim=3, powers=[1, "max"]).out_dim == 6
    shift = zoo_core.list_components("mixer:token_shift")[0]
    assert shift.post == "-" and "arXiv:2305.13048" in shift.paper
