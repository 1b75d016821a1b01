"""The Python API of the README: public names stay functions, and a model knows its identity
from construction (a built model saves like a trained one, card included)."""
import importlib
import inspect

import torch

import zoo_core
from helpers import run_zoo


def test_public_names_stay_functions_after_every_submodule_is_imported():
    zoo_core.create("mixer", "identity", dim=8)
    zoo_core.build(["mixer=identity", "dim=8", "embed.num_bits=64"])
    for module in ("factory", "model", "overrides", "registry", "card", "train.loop"):
        importlib.import_module(f"zoo_core.{module}")
    for name in zoo_core.__all__:
        assert not inspect.ismodule(getattr(zoo_core, name)), name
    run = zoo_core.compose(["mixer=lambda"])  # was: TypeError 'module' object is not callable
    assert run.model.mixer[0].name == "lambda"


def test_a_built_model_knows_its_run_and_saves_weights_config_and_card(tmp_path):
    model = zoo_core.build(["mixer=lambda", "mixer.heads=2", "dim=16", "embed.num_bits=256"])
    assert model.run.model.mixer[0].config["heads"] == 2 and model.labels is None
    model.save_pretrained(tmp_path / "m")  # was: AttributeError ... 'run_spec'
    assert {"model.safetensors", "config.json", "README.md"} <= {p.name for p in (tmp_path / "m").iterdir()}
    card = (tmp_path / "m" / "README.md").read_text()
    assert "library_name: zoo" in card and "`lambda`" in card
    again = zoo_core.load(tmp_path / "m")
    assert again.run.model_dump() == model.run.model_dump()
    for (k, v), (k2, v2) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


def test_zoo_build_out_writes_the_model_card_too(tmp_path):
    r = run_zoo("build", "mixer=lambda", "dim=16", "embed.num_bits=256", "--out", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    card = (tmp_path / "b" / "README.md").read_text()
    assert card.startswith("---\n") and "zoo build mixer=lambda dim=16 embed.num_bits=256" in card
