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


def test_weights_without_checksum_are_refused_and_truncated_files_are_named(saved):
    """Issue 21 case 9: a config.json whose sha256 entry was removed no longer loads corrupted weights."""
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    del config["weights"]["sha256"]
    (path / "config.json").write_text(json.dumps(config))
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[:-8] + bytes(8))  # corrupted, same length
    with pytest.raises(ZooError, match="config.json: no sha256 for the weights"):
        load_model(path)
    from zoo_core.checkpoint import load_state_tensors

    (path / "model.safetensors").write_bytes(data[:100])
    with pytest.raises(ZooError, match="truncated or corrupted"):
        load_state_tensors(path / "model.safetensors")


def test_shape_mismatch_and_missing_keys_are_refused(saved, tmp_path):
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["spec"]["model"]["embed"]["config"]["num_bits"] = 100
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
    """Disk full (here: fsync fails) while saving: one line saying so, the old checkpoint as it was."""
    model, path = saved

    def files():
        return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}, sorted(os.listdir(path / ".zoo"))

    before = files()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(ZooError, match=r"saving failed \(the disk is full\); the previous checkpoint there, if any, "
                                       r"is intact"):
        model.save_pretrained(path)
    assert files() == before  # no temporary files left, nothing overwritten
    monkeypatch.undo()
    assert torch.equal(outputs(load_model(path)), outputs(load_model(path)))


def test_a_checkpoint_is_one_generation_behind_one_pointer(saved, tmp_path):
    """The public layout (model.safetensors, config.json, README.md at the top) reads through one
    pointer, so a save switches all files at once; folders of older zoo versions still load and
    are migrated by their next save; saved files are reproducible and not private."""
    model, path = saved
    assert {p.name for p in path.iterdir()} == {".zoo", "model.safetensors", "config.json", "README.md"}
    assert os.readlink(path / ".zoo" / "current").startswith("gen-")
    assert all(os.readlink(path / n) == f".zoo/current/{n}" for n in ("model.safetensors", "config.json"))
    model.save_pretrained(path)
    assert len([p for p in os.listdir(path / ".zoo") if p.startswith("gen-")]) == 1  # the old one is gone
    old = tmp_path / "old"
    old.mkdir()
    for name in ("model.safetensors", "config.json", "README.md"):
        (old / name).write_bytes((path / name).read_bytes())  # an older zoo's plain files
    assert torch.equal(outputs(load_model(old)), outputs(model))
    model.save_pretrained(old)
    assert (old / "config.json").is_symlink() and torch.equal(outputs(load_model(old)), outputs(model))
    # the same tensors give the same bytes (safetensors writes its metadata in hash order)
    assert (old / "model.safetensors").read_bytes() == (path / "model.safetensors").read_bytes()
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path / "model.safetensors").st_mode & 0o777 == 0o666 & ~umask


def test_config_cannot_point_outside_the_folder_or_shorten_the_labels(saved, tmp_path):
    """Issue 21 case 9: an absolute or ``..`` weights path, a labels list that does not match the head."""
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    (tmp_path / "outside.safetensors").write_bytes((path / "model.safetensors").read_bytes())
    for name in (str(tmp_path / "outside.safetensors"), "../outside.safetensors", "sub/model.safetensors"):
        (path / "config.json").write_text(json.dumps({**config, "weights": {**config["weights"], "file": name}}))
        with pytest.raises(ZooError, match="is not a file name inside the model folder"):
            load_model(path)
    (path / "config.json").write_text(json.dumps({**config, "labels": ["a"]}))
    with pytest.raises(ZooError, match="'labels' must list 2 label names, one per output of the model, got 1"):
        load_model(path)


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


def test_tensors_are_streamed_to_a_safetensors_file_that_loads_equal_and_is_reproducible(tmp_path):
    """atomic_save_tensors writes each tensor from its own memory (no copies); the file is one
    safetensors reads, with every dtype, shape (0-d, empty) and the metadata, and the same
    tensors give the same bytes whatever their order."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    from zoo_core.checkpoint import atomic_save_tensors

    table = torch.randn(6, 4)
    tensors = {"w": table[1:4], "b": torch.randn(3).double(), "i": torch.arange(4), "flag": torch.tensor([True, False]),
               "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 4), "h": torch.randn(3).half(),
               "bf": torch.randn(2).bfloat16(), "u": torch.tensor([1, 2], dtype=torch.uint8)}
    atomic_save_tensors(tmp_path / "a.safetensors", tensors, {"z": "1", "a": "2"})
    atomic_save_tensors(tmp_path / "b.safetensors", dict(reversed(list(tensors.items()))), {"a": "2", "z": "1"})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    got = load_file(tmp_path / "a.safetensors")
    assert set(got) == set(tensors)
    for k, v in tensors.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k
    with safe_open(tmp_path / "a.safetensors", "pt") as f:
        assert f.metadata() == {"a": "2", "z": "1"}
