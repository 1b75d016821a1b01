"""The override grammar and recipes."""
import pytest

import zoo_core
from zoo_core import ZooError
from zoo_core.grammar import format_value, parse_value
from zoo_core.overrides import compose, to_overrides


@pytest.mark.parametrize("text,value", [("4", 4), ("0.1", 0.1), ("1e-3", 1e-3), ("true", True), ("False", False),
                                        ("null", None), ("[a,b]", ["a", "b"]), ("[]", []), ("'4'", "4"),
                                        ("lambda", "lambda"), ("[1,[2,3]]", [1, [2, 3]])])
def test_values_parse_like_hydra(text, value):
    assert parse_value(text) == value
    assert parse_value(format_value(value)) == value  # the grammar prints what it reads


def test_recipes_default_and_the_posts_classifier():
    m = compose([]).model
    assert (m.embed.name, [x.name for x in m.mixer], m.pool.name, m.loss.name, m.optim.name) == \
        ("hash", [], "mean", "cross_entropy", "sparse_dense")
    assert (m.embed.config["num_bits"], m.embed.config["sparse"]) == (2**18, True)
    # one hash per n-gram into a near-zero table (docs/benchmarks/langid_tuning.md, rare-word protocol)
    assert (m.embed.config["num_hashes"], m.embed.config["init_scale"]) == (1, 0.01)
    m = compose(["recipe=lambda_seed"]).model
    assert (m.embed.name, [x.name for x in m.mixer], m.pool.name, m.loss.name, m.optim.name) == \
        ("hash", ["lambda"], "seed_attention", "cross_entropy", "smorms3")
    assert {"default", "lambda_seed"} <= set(zoo_core.get_registry().recipes)


def test_dim_reaches_every_component_and_stacks_take_per_layer_fields():
    run = compose(["dim=32", "mixer=[lambda,lambda]", "mixer.heads=2", "mixer.1.dim_k=8"])
    m = run.model
    assert {m.embed.config["dim"], m.pool.config["dim"]} == {32}
    assert [x.config["heads"] for x in m.mixer] == [2, 2]
    assert [x.config["dim_k"] for x in m.mixer] == [16, 8]


def test_component_dim_must_agree_with_model_dim():
    with pytest.raises(ZooError, match="set dim=32 at the top level"):
        compose(["mixer=lambda", "mixer.dim=32"])


def test_replacing_a_component_drops_the_recipes_fields_for_it_and_naming_it_again_keeps_them():
    assert compose([]).model.embed.config["num_bits"] == 2**18  # set by the default recipe
    # naming the recipe's own component (as the README's tour does) keeps the recipe's fields
    assert compose(["embed=hash"]).model.embed.config["num_bits"] == 2**18
    assert compose(["embed=full"]).model.embed.name == "full"  # another component: its own defaults
    assert "num_bits" not in compose(["embed=full"]).model.embed.config
    assert compose(["embed.num_bits=64"]).model.embed.config["num_bits"] == 64  # a field alone keeps the choice


@pytest.mark.parametrize("bad,message", [("dim=2.7", "dim=2.7: must be a positive whole number"),
                                         ("seed=99999999999999999999999", "seed"),
                                         ("task=nope", "task=nope: unknown task"),
                                         ("optim=lookahead optim.inner=nope", "optim.inner=nope: unknown optimizer"),
                                         ("task=few_shot:ways=abc", "ways=abc is not a number")])
def test_bad_values_are_refused_when_composing(bad, message):
    with pytest.raises(ZooError, match=message.replace("(", r"\(")):
        compose(bad.split())


def test_to_overrides_rebuilds_the_same_run_nested_components_and_expressions_included():
    args = ["mixer=[lambda,gmlp]", "mixer.1.max_len=64", "loss=cross_entropy+0.1*conicity", "optim=lookahead",
            "optim.inner=radam", "optim.inner.lr=0.02", "task=retrieval:k=5", "train.epochs=2", "seed=3"]
    run = compose(args)
    again = compose(to_overrides(run))
    assert again.model_dump() == run.model_dump()


def test_mixer_index_out_of_range():
    with pytest.raises(ZooError, match=r"mixer.3: the mixer stack has 1 layer"):
        compose(["mixer=lambda", "mixer.3.heads=2"])


def test_sections_and_data_options():
    run = compose(["train.epochs=2", "data=x.tsv", "tokenizer.unit=chars", "seed=7"])
    assert run.train.epochs == 2 and run.data.source == "x.tsv" and run.tokenizer.unit == "chars" and run.seed == 7
    assert run.data.options == {}  # the recipe's dataset options do not follow a user's own file
    with pytest.raises(ZooError, match="train.epoch: unknown field for train; did you mean 'epochs'"):
        compose(["train.epoch=2"])


def test_none_spelled_on_the_command_line_is_the_name_none():
    run = compose(["pos=none", "logger=none"])
    assert run.model.pos == "none" and run.logger == "none"
    assert compose(["pos=sinusoidal"]).model.pos == "sinusoidal"
