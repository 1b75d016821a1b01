"""zoo doctor: the recipe checks on real data (a healthy recipe passes, a blocked layer fails
with advice), and conicity of token states."""
import json
import math

import pytest
import torch

from zoo_tools import doctor

from helpers import is_png, write_tiny_langid_tsv, zoo_in_process as zoo


@pytest.fixture(scope="module")
def tiny_tsv(tmp_path_factory):
    return write_tiny_langid_tsv(tmp_path_factory.mktemp("doctor") / "tiny.tsv")


def test_conicity_of_identical_states_is_one_and_of_orthogonal_states_near_zero():
    v = torch.randn(16)
    assert doctor.conicity(v.repeat(10, 1)) == pytest.approx(1.0, abs=1e-5)
    for t in (4, 100):  # t orthogonal unit states: each has cosine 1/sqrt(t) with their mean
        assert doctor.conicity(torch.eye(t) * 3.0) == pytest.approx(1 / math.sqrt(t), abs=1e-5)
    assert doctor.conicity(torch.eye(400)) < 0.06
    # batched with padding: padded positions (garbage here) are ignored, one-token rows skipped
    states = torch.stack([torch.eye(4), v[:4].repeat(4, 1), torch.randn(4, 4)])
    states[0, 2:] = 100.0
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    per = doctor.conicity_per_sequence(states, mask)
    assert per[:2].tolist() == pytest.approx([1 / math.sqrt(2), 1.0], abs=1e-5)
    assert doctor.conicity(states, mask) == pytest.approx((1 / math.sqrt(2) + 1) / 2, abs=1e-5)


def test_doctor_passes_a_healthy_recipe_on_real_data(tiny_tsv, tmp_path, capsys):
    code, stdout, stderr = zoo(capsys, "doctor", f"data={tiny_tsv}", "dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "train.lr=0.02",
                               "--out", tmp_path / "d")
    assert code == 0, stdout + stderr
    for row in ("initial loss", "overfit one batch", "gradient reaches every parameter", "gradient flow per layer",
                "conicity of token states", "codebook usage"):
        assert row in stdout, row
    assert "1.099" in stdout and "what to try next" not in stdout  # every check passed: nothing to try
    report = json.loads((tmp_path / "d" / "doctor.json").read_text())
    assert "(expected -log(1/3) = 1.099)" in report["checks"][0]["value"]
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert status["initial loss"] == "pass" and status["overfit one batch"] == "pass"
    assert status["gradient reaches every parameter"] == "pass" and status["codebook usage"] == "n/a"
    checks = {c["name"]: c for c in report["checks"]}
    assert abs(checks["initial loss"]["data"]["loss"] - math.log(3)) < 0.2 * math.log(3)
    assert checks["overfit one batch"]["data"]["losses"][-1] <= 0.05
    assert 0 < checks["conicity of token states"]["data"]["fresh"] < doctor.CONICITY_WARN
    assert is_png(tmp_path / "d" / "grad_flow.png")


def test_doctor_fails_when_a_layer_gets_no_gradient(tiny_tsv, tmp_path, monkeypatch, capsys):
    import zoo_core.train.loop as training

    class Quantiser(torch.nn.Module):  # a component exposing codebook_usage(), like a vq mixer
        def codebook_usage(self):
            return {"used": 3, "size": 64}

    build = training.build_model

    def blocked_build(*args, **kwargs):
        model = build(*args, **kwargs)
        for p in model.mixers[0].parameters():
            p.register_hook(torch.zeros_like)
        model.vq = Quantiser()
        return model

    monkeypatch.setattr(training, "build_model", blocked_build)
    code, stdout, _ = zoo(capsys, "doctor", f"data={tiny_tsv}", "dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "train.lr=0.02",
                          "--steps", 30, "--out", tmp_path / "d")
    assert code == 1 and "what to try next" in stdout and "fail" in stdout
    checks = {c["name"]: doctor.Check(**c) for c in json.loads((tmp_path / "d" / "doctor.json").read_text())["checks"]}
    reach = checks["gradient reaches every parameter"]
    assert reach.status == "fail" and "mixers.0.to_q.weight" in reach.value
    flow = checks["gradient flow per layer"]
    assert flow.status == "warn" and "mixers.0.to_q" in flow.value
    assert checks["codebook usage"].status == "warn" and "5%" in checks["codebook usage"].value
