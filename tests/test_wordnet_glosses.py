"""The wordnet_glosses dataset on a tiny fixture in WordNet's own data-file format
(tests/data/wordnet: the licence-header lines, then one synset per line at its byte offset),
so the tests do not need the Debian package."""
from collections import Counter
from pathlib import Path

import pytest

from zoo_core.data import load_splits
from zoo_core.errors import ZooError
from zoo_core.runspec import DataConfig
from zoo_plugins.datasets import wordnet

FIXTURE = Path(__file__).parent / "data" / "wordnet"


def test_offsets_are_byte_positions_and_lex_numbers_name_the_lexicographer_file():
    raw = (FIXTURE / "data.noun").read_bytes()
    synsets = wordnet.read_data_file(FIXTURE / "data.noun")
    assert len(synsets) == 14  # the two header lines are skipped
    for offset, _, gloss in synsets:
        assert raw[offset: offset + 9].decode()[:8] == f"{offset:08d}"  # the offset points at its own line
        assert raw[offset - 1: offset] == b"\n"
    labels = {gloss.split()[0]: label for _, label, gloss in synsets}
    assert labels["food"] == "noun.food" and labels["solid-hoofed"] == "noun.animal" and labels["that"] == "noun.Tops"
    adj = {label for _, label, _ in wordnet.read_data_file(FIXTURE / "data.adj")}
    assert adj == {"adj.all", "adj.pert", "adj.ppl"}  # 00, 01 and 44
    assert wordnet.LEXNAMES[13] == "noun.food" and wordnet.LEXNAMES[38] == "verb.motion" and len(wordnet.LEXNAMES) == 45


def test_gloss_extraction_with_and_without_examples():
    synsets = wordnet.read_data_file(FIXTURE / "data.noun")
    bread = next(g for _, _, g in synsets if g.startswith("food made"))
    assert bread.endswith('baked; "she baked bread every morning"')  # trailing spaces gone
    assert wordnet.gloss_text(bread, examples=False) == ("food made from dough of flour or meal and usually raised "
                                                         "with yeast or baking powder and then baked")
    assert wordnet.gloss_text(bread, examples=True) == bread
    # a semicolon without a quoted example is part of the definition
    assert wordnet.gloss_text("a hand tool; used to strike", examples=False) == "a hand tool; used to strike"
    assert wordnet.gloss_text('"a broken vow"', examples=False) == ""  # only an example: no definition
    run = wordnet.parse_line("02000000 38 v 01 run 0 000 | move fast; \"Don't run\"; \"he ran\"  \n", "x")
    assert run == (2000000, "verb.motion", "move fast; \"Don't run\"; \"he ran\"")


def test_texts_once_conflicts_dropped_example_only_glosses_kept_only_with_examples():
    plain = dict(wordnet.labelled_texts(FIXTURE, examples=False))
    assert "a source of difficulty" not in plain  # noun.state and noun.cognition: no single answer
    assert plain["someone who bakes commercially"] == "noun.person"
    assert plain["fall as snow"] == "verb.weather"
    assert not any(t.startswith('"') for t in plain)
    assert len(plain) == 14 + 7 + 6 + 5 - 2 - 1  # minus the conflicting pair and the example-only gloss
    full = dict(wordnet.labelled_texts(FIXTURE, examples=True))
    assert full['"a broken vow"'] == "adj.ppl" and len(full) == len(plain) + 1


def test_split_is_seeded_disjoint_and_stratified():
    pairs = [(f"{c} {i}", c) for c, n in (("a", 60), ("b", 30), ("c", 10)) for i in range(n)]
    train, valid, test = wordnet.stratified_split(pairs, (50, 20, 10), seed=3)
    assert (train, valid, test) == wordnet.stratified_split(pairs, (50, 20, 10), seed=3)
    assert (train, valid, test) != wordnet.stratified_split(pairs, (50, 20, 10), seed=4)
    assert len(set(train) | set(valid) | set(test)) == 80 and (len(train), len(valid), len(test)) == (50, 20, 10)
    count = lambda ix: Counter(pairs[i][1] for i in ix)  # noqa: E731
    assert count(train) == {"a": 30, "b": 15, "c": 5}
    assert count(valid) == {"a": 12, "b": 6, "c": 2}
    assert count(test) == {"a": 6, "b": 3, "c": 1}
    train_all, _, _ = wordnet.stratified_split(pairs, (0, 20, 10), seed=3)  # n_train=0: everything else
    assert len(train_all) == 70


def test_registered_dataset_loads_the_fixture_through_data_options():
    cfg = DataConfig(source="wordnet_glosses", options={"root": str(FIXTURE), "n_train": 10, "n_valid": 5, "n_test": 5})
    a, b = load_splits(cfg, seed=0), load_splits(cfg, seed=0)
    assert (a.train.texts, a.valid.texts, a.test.texts) == (b.train.texts, b.valid.texts, b.test.texts)
    assert (len(a.train), len(a.valid), len(a.test)) == (10, 5, 5)
    assert not set(a.train.texts) & set(a.test.texts) and not set(a.valid.texts) & set(a.test.texts)
    assert set(a.train.labels) <= set(wordnet.LEXNAMES)
    assert a.name == "wordnet_glosses"
    assert load_splits(cfg, seed=1).test.texts != a.test.texts


def test_missing_package_names_apt_get_in_one_line(tmp_path):
    with pytest.raises(ZooError) as e:
        wordnet.load(root=str(tmp_path))
    message = str(e.value)
    assert "apt-get install wordnet-base" in message and str(tmp_path) in message and "\n" not in message
    with pytest.raises(ZooError, match="do not fit"):
        wordnet.load(root=str(FIXTURE), n_train=100)


def test_damaged_file_is_reported_with_its_line(tmp_path):
    for part in wordnet.PARTS:
        (tmp_path / f"data.{part}").write_bytes((FIXTURE / f"data.{part}").read_bytes())
    noun = tmp_path / "data.noun"
    noun.write_bytes(noun.read_bytes().replace(b"  1 This", b"  1 Thi", 1))  # every offset is now one byte off
    with pytest.raises(ZooError, match=r"data.noun:3: synset offset 171 is not the line's byte offset 170"):
        wordnet.load(root=str(tmp_path))


def test_glosses_recipe_is_subword_word_vectors_with_positions_and_gmlp_blocks_over_the_words():
    import sys

    from zoo_core.overrides import compose

    run = compose(["recipe=glosses"])
    assert run.data.source == "wordnet_glosses" and [m.name for m in run.model.mixer] == ["gmlp"] * 3
    assert all(m.config["max_len"] == run.tokenizer.max_tokens == 64 for m in run.model.mixer)  # a gate row per word
    assert all(m.config["hidden"] == 256 for m in run.model.mixer)
    assert (run.tokenizer.unit, run.model.pool.name, run.model.pos) == ("words", "mean", "sinusoidal")
    embed = run.model.embed
    assert embed.name == "subword_hash" and embed.config["sparse"] and run.train.lr == 0.02
    assert (embed.config["ngram_min"], embed.config["ngram_max"], embed.config["reduce"]) == (3, 6, "mean")
    # the rest as the recipe before (the benchmark's row bag-words+gmlpx3-pos, docs/benchmarks/sentences.md)
    assert (embed.config["num_bits"], embed.config["num_hashes"], run.model.dim) == (2**18, 1, 64)
    optim = run.model.optim
    assert optim.name == "sparse_dense" and optim.config.get("sparse_rule", "adam") == "adam"
    assert (run.train.epochs, run.train.batch_size, run.model.token_dropout) == (6, 128, 0.25)


def test_glosses_recipe_trains_saves_and_reloads_on_the_fixture(tmp_path):
    """A few steps of recipe=glosses on the fixture: the saved model reloads and predicts the same."""
    from zoo_core.model import ZooModel
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer

    run = compose(["recipe=glosses", f"data.options.root={FIXTURE}", "data.options.n_train=12",
                   "data.options.n_valid=4", "data.options.n_test=4", "train.epochs=1", "train.batch_size=4",
                   "train.plots=false", "embed.num_bits=1024"])
    trainer = Trainer(run, tmp_path / "m")
    trainer.fit()
    texts = ["food made from dough", "an animal with hooves", "x"]
    trained = trainer.model.eval().predict(texts, top_k=3)
    loaded = ZooModel.from_pretrained(tmp_path / "m").predict(texts, top_k=3)
    assert len(loaded) == 3
    for x, y in zip(loaded, trained):
        assert [name for name, _ in x["top"]] == [name for name, _ in y["top"]]
        assert [p for _, p in x["top"]] == pytest.approx([p for _, p in y["top"]], abs=1e-5)
