"""Diagnostics: gradient flow finds a blocked layer, curves/TensorBoard files, zoo doctor's
recipe checks on real data, conicity, attention explanations as HTML/PNG."""
import json
import math
import warnings

import pytest
import torch

from zoo_core import diagnostics as diag
from zoo_core.overrides import compose
from zoo_core.train.loop import Trainer

from helpers import write_tsv

SMALL = ["data=wordfreq_langid", "data.options.words_per_language=120", "data.options.languages=[en,de,fi]",
         "dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "train.batch_size=32", "train.epochs=3", "train.patience=5", "train.lr=0.02"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG_MAGIC and len(data) > 2000


class ZeroMixerGradients:
    """Blocks the flow: every gradient that reaches the mixer's weights is replaced by zeros."""

    def on_train_start(self, trainer):
        for p in trainer.model.mixers[0].parameters():
            p.register_hook(torch.zeros_like)


def test_gradient_flow_names_the_blocked_layer_and_not_a_healthy_one(tmp_path):
    healthy = Trainer(compose(SMALL + ["train.grad_flow=true"]), tmp_path / "ok")
    with warnings.catch_warnings():
        warnings.simplefilter("error", diag.GradientFlowWarning)
        healthy.fit()
    flow = next(c for c in healthy.callbacks if isinstance(c, diag.GradientFlow))
    assert flow.steps >= 27 and not flow.blocked and not flow.warnings
    lines = [json.loads(l) for l in (tmp_path / "ok" / "grad_flow.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines] == list(range(flow.steps))
    layers = set(lines[0]["mean_abs_grad"])
    assert {"embed", "mixers.0.to_q", "pool.seed", "head"} <= layers
    assert not any("bias" in name for name in layers)  # the post: biases excluded
    assert all(v > 0 for v in lines[0]["mean_abs_grad"].values())

    blocked = Trainer(compose(SMALL + ["train.grad_flow=true"]), tmp_path / "blocked",
                      callbacks=[ZeroMixerGradients()])
    with pytest.warns(diag.GradientFlowWarning) as caught:
        blocked.fit()
    flow = next(c for c in blocked.callbacks if isinstance(c, diag.GradientFlow))
    mixer_layers = {name for name in layers if name.startswith("mixers.0.")}
    assert set(flow.blocked) == mixer_layers  # exactly the mixer, nothing upstream or downstream
    assert flow.blocked["mixers.0.to_q"] == 0  # near zero from the first step
    messages = [str(w.message) for w in caught]
    assert any("'mixers.0.to_q'" in m and f"{diag.NEAR_ZERO_STEPS} steps" in m for m in messages)
    for run in ("ok", "blocked"):
        assert is_png(tmp_path / run / "grad_flow.png") and is_png(tmp_path / run / "curves.png")


def test_curves_log_every_step_and_can_be_switched_off(tmp_path):
    t = Trainer(compose(SMALL + ["train.epochs=2"]), tmp_path / "a")
    result = t.fit()
    rows = [json.loads(l) for l in (tmp_path / "a" / "steps.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, result.steps + 1))
    assert all(r["grad_norm"] > 0 and r["lr"] > 0 and math.isfinite(r["loss"]) for r in rows)
    assert is_png(tmp_path / "a" / "curves.png")
    assert not (tmp_path / "a" / "grad_flow.png").exists()  # train.grad_flow is off by default
    Trainer(compose(SMALL + ["train.epochs=1", "train.plots=false"]), tmp_path / "b").fit()
    assert not (tmp_path / "b" / "curves.png").exists() and not (tmp_path / "b" / "steps.jsonl").exists()


def test_tensorboard_logger_writes_event_files_or_names_the_install(tmp_path, monkeypatch):
    run = compose(SMALL + ["train.epochs=1", "train.plots=false", "logger=tensorboard"])
    if diag.tensorboard_available():
        Trainer(run, tmp_path / "tb").fit()
        events = list((tmp_path / "tb" / "tb").glob("events.out.tfevents.*"))
        assert events and events[0].stat().st_size > 100
    monkeypatch.setattr(diag, "tensorboard_available", lambda: False)
    with pytest.raises(diag.ZooError, match="pip install tensorboard"):
        Trainer(run, tmp_path / "none")


def test_conicity_of_identical_states_is_one_and_of_orthogonal_states_near_zero():
    v = torch.randn(16)
    assert diag.conicity(v.repeat(10, 1)) == pytest.approx(1.0, abs=1e-5)
    for t in (4, 100):  # t orthogonal unit states: each has cosine 1/sqrt(t) with their mean
        assert diag.conicity(torch.eye(t) * 3.0) == pytest.approx(1 / math.sqrt(t), abs=1e-5)
    assert diag.conicity(torch.eye(400)) < 0.06
    # batched with padding: padded positions (garbage here) are ignored, one-token rows skipped
    states = torch.stack([torch.eye(4), v[:4].repeat(4, 1), torch.randn(4, 4)])
    states[0, 2:] = 100.0
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    per = diag.conicity_per_sequence(states, mask)
    assert per[:2].tolist() == pytest.approx([1 / math.sqrt(2), 1.0], abs=1e-5)
    assert diag.conicity(states, mask) == pytest.approx((1 / math.sqrt(2) + 1) / 2, abs=1e-5)


@pytest.fixture(scope="module")
def tiny_tsv(tmp_path_factory):
    root = tmp_path_factory.mktemp("doctor")
    rows = [(w, lang) for lang, words in (("en", ["the", "house", "water", "friend", "night", "green", "would"]),
                                          ("de", ["das", "haus", "wasser", "freund", "nacht", "grün", "würde"]),
                                          ("fi", ["talo", "vesi", "ystävä", "yö", "vihreä", "olisi", "että"]))
            for w in words]
    return write_tsv(root / "tiny.tsv", rows * 4)


def zoo(capsys, *args) -> tuple[int, str, str]:
    """The real CLI entry point, in this process (a subprocess costs seconds of imports)."""
    from zoo_cli.main import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


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
    assert 0 < checks["conicity of token states"]["data"]["fresh"] < diag.CONICITY_WARN
    assert is_png(tmp_path / "d" / "grad_flow.png")


def test_doctor_fails_when_a_layer_gets_no_gradient(tiny_tsv, tmp_path, monkeypatch, capsys):
    import zoo_core.training as training

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
    checks = {c["name"]: diag.Check(**c) for c in json.loads((tmp_path / "d" / "doctor.json").read_text())["checks"]}
    reach = checks["gradient reaches every parameter"]
    assert reach.status == "fail" and "mixers.0.to_q.weight" in reach.value
    flow = checks["gradient flow per layer"]
    assert flow.status == "warn" and "mixers.0.to_q" in flow.value
    assert checks["codebook usage"].status == "warn" and "5%" in checks["codebook usage"].value


def test_explanations_as_html_and_png(tmp_path):
    rows = [{"text": "das <b>haus", "label": "de", "score": 0.9, "top": [("de", 0.9), ("en", 0.1)],
             "tokens": ["das", "<b>haus"], "weights": [0.25, 0.75]},
            {"text": "the house", "label": "en", "score": 0.8, "top": [("en", 0.8)],
             "tokens": ["the", "house"], "weights": [0.6, 0.4]}]
    page = diag.write_explanations(rows, tmp_path / "why.html").read_text()
    assert "das &lt;b&gt;haus" in page and "<b>haus" not in page  # escaped, not markup
    for token, w in (("das", "0.250"), ("&lt;b&gt;haus", "0.750"), ("the", "0.600"), ("house", "0.400")):
        assert f">{token}<small>{w}</small>" in page, token
    assert "rgb(255,115,20)" in page  # the peak token of a text gets the strongest colour
    assert is_png(diag.write_explanations(rows, tmp_path / "why.png"))
    with pytest.raises(diag.ZooError, match=r"\.html or a \.png"):
        diag.write_explanations(rows, tmp_path / "why.txt")


def test_predict_explain_file_from_the_cli(tiny_tsv, tmp_path, capsys):
    Trainer(compose([f"data={tiny_tsv}", "dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "train.epochs=1", "train.plots=false",
                     "tokenizer.unit=words"]), tmp_path / "m").fit()
    code, stdout, stderr = zoo(capsys, "predict", tmp_path / "m", "das haus", "the house", "--explain-file",
                               tmp_path / "why.html")
    assert code == 0, stderr
    page = (tmp_path / "why.html").read_text()
    for token in ("das", "haus", "the", "house"):
        assert f">{token}<small>" in page
    code, _, stderr = zoo(capsys, "predict", tmp_path / "m", "x", "--explain-file", tmp_path / "why.pdf")
    assert code == 2 and "write an .html or a .png file" in stderr and not (tmp_path / "why.pdf").exists()
