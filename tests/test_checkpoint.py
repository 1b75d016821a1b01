"""Checkpoints: safetensors + JSON only, strict loading, atomic saving."""
import json
import os

import pytest
import torch

import zoo_core
from zoo_core import ZooError
from zoo_core import load as load_model


@pytest.fixture
def saved(tmp_path):
    model = zoo_core.build(["dim=16", "embed.num_bits=200", "mixer=lambda", "mixer.heads=2", "pool=seed_attention"])
    model.labels = ["a", "b"]
    model.save_pretrained(tmp_path / "m")
    return model, tmp_path / "m"


def outputs(model, tokens=(["hello", "zoo"], ["x"])):
    model.eval()
    with torch.no_grad():
        return model(model.encode(list(tokens)))["logits"]


def test_round_trip_gives_identical_outputs(saved):
    model, path = saved
    loaded = load_model(path)
    assert torch.equal(outputs(model), outputs(loaded))
    assert loaded.labels == ["a", "b"]
    config = json.loads((path / "config.json").read_text())
    assert config["library_name"] == "zoo"
    assert config["spec"]["model"]["embed"] == {**config["spec"]["model"]["embed"], "kind": "embed", "name": "hash"}
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), "pt") as f:
        meta = f.metadata()
    assert meta["zoo_version"] and json.loads(meta["zoo_components"])["mixer"] == "mixer:lambda"


def test_corrupted_weights_are_refused(saved):
    _, path = saved
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ZooError, match="sha256 does not match"):
        load_model(path)


def test_truncated_weights_without_checksum_are_refused(saved):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["weights"]["sha256"] = None
    (path / "config.json").write_text(json.dumps(config))
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[:100])
    with pytest.raises(ZooError, match="truncated or corrupted"):
        load_model(path)


def test_shape_mismatch_and_missing_keys_are_refused(saved, tmp_path):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["spec"]["model"]["embed"]["config"]["num_bits"] = 100
    config["weights"]["sha256"] = None
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ZooError, match=r"embed.weight has shape \(200, 16\) but the model expects \(100, 16\)"):
        load_model(path)
    config["spec"]["model"]["embed"]["config"]["num_bits"] = 200
    config["spec"]["model"]["mixer"].append(config["spec"]["model"]["mixer"][0])
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ZooError, match="weights missing for"):
        load_model(path)


def test_missing_or_old_plugin_distribution_names_the_install(saved):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["requirements"] = ["zoo-nlp==999.0", "zoo-extra-mixers==1.0"]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ZooError) as err:
        load_model(path)
    text = str(err.value)
    assert "pip install -U 'zoo-nlp>=999.0'" in text and "pip install 'zoo-extra-mixers>=1.0'" in text


def test_not_a_checkpoint_and_pickle_files(tmp_path):
    with pytest.raises(ZooError, match="not a zoo checkpoint"):
        load_model(tmp_path)
    from zoo_core.checkpoint import load_state_tensors

    (tmp_path / "weights.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(ZooError, match="never loads pickle"):
        load_state_tensors(tmp_path / "weights.bin")


def test_crash_while_saving_leaves_previous_checkpoint_intact(saved, monkeypatch):
    model, path = saved
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        model.save_pretrained(path)
    after = {p.name: p.read_bytes() for p in path.iterdir()}
    assert after == before  # no temporary files left, nothing overwritten
    monkeypatch.undo()
    assert torch.equal(outputs(load_model(path)), outputs(load_model(path)))


def test_token_dropout_hides_tokens_in_training_only():
    model = zoo_core.build(["dim=16", "mixer=lambda", "mixer.heads=2", "token_dropout=0.5", "pool=mean"])
    inputs = model.encode([["a", "b", "c", "d", "e", "f"], ["x"]])
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(inputs)["pooled"], model(inputs)["pooled"])
        model.train()
        torch.manual_seed(0)
        out = model(inputs)
    hidden = (out["states"][0].abs().sum(-1) == 0)
    assert 0 < int(hidden.sum()) < 6  # some, never all, tokens of the long sequence are hidden
    assert out["states"][1, 0].abs().sum() > 0  # a one-token sequence keeps its token
