"""The fast path (issue 16): vectorised featurisation with a documented, pinned hash; flat id
batches; the EmbeddingBag path of bag models; coalesced row gradients; the standalone numpy
featurizer; old blake2b checkpoints; resume state dropped after a normal end."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo_core
from zoo_core import featurize
from zoo_core.bag import bag_capable, token_weights
from zoo_core.batches import IdFeatures, featurize_texts
from zoo_core.overrides import compose
from zoo_core.runspec import TokenizerConfig
from zoo_core.tokenize import Tokenizer
from zoo_core.train.loop import Trainer

ODD = ["", "🦒", "🙂‍↔️", "日本語", "ça", "Кириллица", "عربى", "mixed-Скрипт-語", "\ud800", " ", "a" * 500,
       "İstanbul STRASSE straße", "  two  spaces ", "x", "ab", "Hello World\tTabs\nnewline"]
FIXTURE = Path(__file__).parent / "fixtures" / "blake2b_model"
TOKENIZERS = [dict(unit="char_ngrams"), dict(unit="char_ngrams", word_token=False),
              dict(unit="char_ngrams", ngram_min=2, ngram_max=3, lowercase=False, max_tokens=5),
              dict(unit="char_ngrams", ngram_min=3, ngram_max=6, max_tokens=9), dict(unit="words"),
              dict(unit="chars", max_tokens=7)]  # ngram_min > ngram_max is refused when composing


# ---- the hash ------------------------------------------------------------------------------
def test_token_ids_are_fnv1a_64_with_its_published_test_vectors():
    """FNV-1a 64 (Fowler/Noll/Vo, IETF draft-eastlake-fnv) test vectors, then UTF-8 bytes."""
    assert featurize.token_id("") == 0xCBF29CE484222325
    assert featurize.token_id("a") == 0xAF63DC4C8601EC8C
    assert featurize.token_id("foobar") == 0x85944171F73967E8
    h = 0xCBF29CE484222325
    for byte in "Straße".encode():  # the specification in docs/deploy.md, written out again
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    assert featurize.token_id("Straße") == h


GOLDEN = {"": ([165, 98, 31, 164], [87274, 183275, 17132, 113133]),
          "hello": ([145, 74, 3, 132], [101472, 132387, 163302, 194217]),
          "Straße": ([37, 112, 187, 62], [178538, 141831, 105124, 68417]),
          "日本語": ([58, 61, 80, 83], [202128, 193095, 184062, 175029]),
          "🙂": ([27, 158, 89, 20], [173154, 100667, 28180, 217837]),
          "<ça>": ([23, 192, 161, 146], [136085, 193530, 250975, 46276])}


def test_bits_are_pinned_and_the_vectorised_code_is_the_specification():
    """Computed once and fixed: a saved fnv1a64 model depends on them."""
    ids = np.array([featurize.token_id(t) for t in GOLDEN], dtype=np.uint64)
    small, _ = featurize.hash_bits(ids, 200, 4, 0)
    big, _ = featurize.hash_bits(ids, 2**18, 4, seed=7)
    for i, (token, (want_small, want_big)) in enumerate(GOLDEN.items()):
        assert small[i].tolist() == want_small == featurize.token_bits_int(token, 200, 4, 0)
        assert big[i].tolist() == want_big == featurize.token_bits_int(token, 2**18, 4, 7)
    assert featurize.hash_bits(ids, 200, 4, 1)[0].tolist() != small.tolist()  # the seed salts it


def test_a_repeated_bit_has_weight_zero():
    ids = np.arange(2000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    bits, weight = featurize.hash_bits(ids, 7, 5, 0)  # 5 bits in 7 rows: repeats are common
    for b, w in zip(bits.tolist(), weight.tolist()):
        assert w == [0.0 if b[j] in b[:j] else 1.0 for j in range(5)]


@pytest.mark.parametrize("cfg", TOKENIZERS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_vectorised_ids_are_the_tokenizers_tokens_hashed_one_by_one(cfg):
    """Same tokens, same order, same truncation and empty-text token as zoo_core.tokenize."""
    tok = TokenizerConfig(**cfg)
    ids, offsets = featurize.token_ids(ODD, tok.unit, tok.ngram_min, tok.ngram_max, tok.word_token, tok.lowercase,
                                       tok.max_tokens)
    assert offsets[0] == 0 and len(offsets) == len(ODD) + 1
    for i, tokens in enumerate(Tokenizer(tok).batch(ODD)):
        assert ids[offsets[i]:offsets[i + 1]].tolist() == [featurize.token_id(t) for t in tokens], ODD[i]


SUBPROCESS = """
import json, sys
from zoo_core.featurize import token_ids, hash_bits
ids, offsets = token_ids(json.loads(sys.argv[1]))
print(json.dumps([hash_bits(ids, 2**18, 4, 3)[0].tolist(), offsets.tolist()]))
"""


def test_ids_are_the_same_in_every_process_whatever_pythonhashseed():
    outs = []
    for seed in ("0", "1", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-c", SUBPROCESS, json.dumps(ODD)], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout))
    ids, offsets = featurize.token_ids(ODD)
    assert outs[0] == outs[1] == outs[2] == [featurize.hash_bits(ids, 2**18, 4, 3)[0].tolist(), offsets.tolist()]


STANDALONE = """
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "zoo_core", "zoo_plugins", "zoo_tools"):
            raise ImportError(f"{name} must not be needed")
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
from featurize import Featurizer
meta = json.loads(sys.argv[2])
out = Featurizer(meta)(json.loads(sys.argv[3]))
print(json.dumps({k: v.tolist() for k, v in out.items()}))
"""


def test_the_standalone_featurizer_needs_neither_zoo_nor_torch_and_equals_zoos_encoding(tmp_path):
    model = zoo_core.build(["dim=8", "embed.num_bits=512", "embed.num_hashes=3", "embed.seed=5",
                            "tokenizer.unit=char_ngrams", "tokenizer.max_tokens=12"])
    shutil.copy(featurize.__file__, tmp_path / "featurize.py")
    meta = {"tokenizer": model.run.tokenizer.model_dump(mode="json"), "embed": {"config": model.spec.embed.config}}
    r = subprocess.run([sys.executable, "-I", "-c", STANDALONE, str(tmp_path), json.dumps(meta), json.dumps(ODD)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    want = model.encode(Tokenizer(model.run.tokenizer).batch(ODD))  # zoo's per-token-string encoding
    assert set(got) == {"bits", "bit_weight", "mask"}
    for key in got:
        assert np.array_equal(np.array(got[key]), want[key].numpy()), key


# ---- batches, the EmbeddingBag path ---------------------------------------------------------
def bag_model(*extra):
    model = zoo_core.build(["num_classes=3", "dim=8", "embed.num_bits=256", "embed.num_hashes=4", "embed.sparse=true", "mixer=[]",
                            "pool=mean", "tokenizer.unit=char_ngrams", *extra])
    model.labels = ["a", "b", "c"]
    return model


@pytest.mark.parametrize("extra", [[], ["embed.importance=true", "embed.importance_buckets=64"]])
def test_the_bag_path_equals_the_padded_path_in_outputs_and_gradients(extra):
    model = bag_model(*extra).double()  # float64: the two paths sum in different orders
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # importance weights off their start of all ones
    assert bag_capable(model)
    texts = ODD + ["bonjour", "a b c d e f g"]
    bag, padded = featurize_texts(model, texts, bag=True), featurize_texts(model, texts, bag=False)
    model.eval()
    out_bag, out_pad = model(bag.encode(range(len(texts)))), model(padded.encode(range(len(texts))))
    assert out_bag["states"] is None and out_pad["states"] is not None
    torch.testing.assert_close(out_bag["pooled"], out_pad["pooled"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out_bag["logits"], out_pad["logits"], rtol=1e-10, atol=1e-12)
    grads = []
    for out in (out_bag, out_pad):
        model.zero_grad(set_to_none=True)
        out["logits"].square().sum().backward()
        grads.append({n: p.grad.to_dense() for n, p in model.named_parameters()})
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-10, atol=1e-12)


def test_row_gather_gives_a_coalesced_gradient_equal_to_embedding_bags():
    model = bag_model()
    feats = featurize_texts(model, ["hello world", "hello", "x"], bag=True)
    inputs = feats.encode([0, 1, 2])
    model.embed.bag(inputs).pow(2).sum().backward()
    grad = model.embed.weight.grad
    assert grad.is_sparse
    rows = grad._indices()[0]  # each touched row once, sorted (autograd may drop the coalesced flag)
    assert torch.equal(rows, torch.unique(inputs["bag_bits"]))
    ref = torch.nn.Parameter(model.embed.weight.detach().clone())
    w = inputs["bag_weight"].reshape(-1)
    torch.nn.functional.embedding_bag(inputs["bag_bits"].reshape(-1), ref, inputs["bag_offsets"][:-1] * 4,
                                      mode="sum", per_sample_weights=w, sparse=True).pow(2).sum().backward()
    torch.testing.assert_close(grad.to_dense(), ref.grad.to_dense())


@pytest.mark.parametrize("num_hashes", [1, 4])
def test_row_bag_backward_equals_embedding_bags_gradient_with_repeated_rows_and_token_weights(num_hashes):
    """The training path's bag sum (RowBag: its backward a bag sum over the entries grouped by
    row) against torch's EmbeddingBag gradient: repeated tokens, a one-token text, an empty
    text, a 16-row table (rows shared by many tokens), per-token weights as dropout makes them."""
    model = zoo_core.build(["num_classes=3", "dim=8", "embed.num_bits=16", f"embed.num_hashes={num_hashes}",
                            "embed.sparse=true", "mixer=[]", "pool=mean", "tokenizer.unit=char_ngrams"]).double()
    feats = featurize_texts(model, ["aaaa aaaa aaaa", "x", "hello world", ""], bag=True)
    inputs = feats.encode([0, 1, 2, 3])
    n = len(inputs["bag_bits"])
    token_weight = torch.rand(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * (
        torch.arange(n) % 3 != 0)  # some tokens dropped
    out = model.embed.bag(inputs, token_weight)
    assert type(out.grad_fn).__name__ == "RowBagBackward"
    (out * torch.linspace(-1, 2, out.numel(), dtype=torch.float64).view_as(out)).sum().backward()
    ref = torch.nn.Parameter(model.embed.weight.detach().clone())
    assert ("bag_weight" in inputs) == (num_hashes > 1)  # one hash: every bit weight is 1, none sent
    bit_weight = inputs["bag_weight"].double() if num_hashes > 1 else torch.ones(n, 1, dtype=torch.float64)
    w = (bit_weight * token_weight.unsqueeze(1)).reshape(-1)
    ref_out = torch.nn.functional.embedding_bag(inputs["bag_bits"].reshape(-1).long(), ref,
                                                inputs["bag_offsets"][:-1] * num_hashes, mode="sum",
                                                per_sample_weights=w)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    (ref_out * torch.linspace(-1, 2, out.numel(), dtype=torch.float64).view_as(out)).sum().backward()
    grad = model.embed.weight.grad
    assert grad.is_sparse and torch.equal(grad._indices()[0], torch.unique(inputs["bag_bits"]))
    torch.testing.assert_close(grad.to_dense(), ref.grad, rtol=1e-12, atol=1e-12)


def test_token_dropout_on_ids_keeps_at_least_one_token_and_averages_the_kept():
    torch.manual_seed(0)
    offsets = torch.tensor([0, 1, 3, 10, 30])
    for _ in range(50):
        w = token_weights(offsets, "mean", drop=0.9)
        per_text = torch.zeros(4).index_add_(0, torch.repeat_interleave(torch.arange(4), offsets.diff()), w)
        torch.testing.assert_close(per_text, torch.ones(4))  # a mean over >= 1 kept token
    assert torch.equal(token_weights(offsets, "sum"), torch.ones(30))


@pytest.mark.parametrize("hashes", [4, 1])
def test_features_are_compact_arrays_and_batches_are_their_slices(hashes):
    model = bag_model(f"embed.num_hashes={hashes}")
    texts = [f"word{i % 37} other{i % 11}" for i in range(500)]
    feats = featurize_texts(model, texts)
    assert isinstance(feats, IdFeatures) and feats.offsets.dtype == np.int64
    assert len(feats.table) == len(np.unique(feats.table)) < 500  # each distinct token id once
    ids, offsets = featurize.token_ids(texts, **{k: getattr(model.run.tokenizer, k) for k in
                                                 ("unit", "ngram_min", "ngram_max", "word_token", "lowercase",
                                                  "max_tokens")})
    assert np.array_equal(feats.offsets, offsets)
    if hashes > 1:  # 4 bytes a token: each token's row of the distinct ids
        assert feats.index.dtype == np.int32 and np.array_equal(feats.table[feats.index], ids)
    else:  # one hash: each token's bit itself, 4 bytes a token (int32), weights all 1 (None)
        bits = model.embed.id_codes(ids)[0]
        assert feats.index is None and feats.codes[1] is None and feats.codes[0].dtype == np.int32
        assert np.array_equal(feats.codes[0], bits)
    idx = [499, 3, 3, 250]
    batch = feats.encode(idx)
    want = model.embed.encode_bag(*_select(ids, offsets, idx))
    assert _same_inputs(batch, want)


@pytest.mark.parametrize("hashes", [4, 1])
def test_batches_of_consecutive_texts_are_slices_equal_to_gathered_batches(hashes):
    model = bag_model(f"embed.num_hashes={hashes}")
    assert model.embed.training and model.embed.sparse  # the batches carry RowBag's rows and groups
    texts = ODD + ["bonjour", "a b c d e f g"]
    ids, offsets = featurize.token_ids(texts, **{k: getattr(model.run.tokenizer, k) for k in
                                                 ("unit", "ngram_min", "ngram_max", "word_token", "lowercase",
                                                  "max_tokens")})
    distinct, flat = featurize_texts(model, texts), featurize_texts(model, texts, dedup=False)
    assert flat.index is None  # one pass: each token's codes computed directly
    for idx in [range(len(texts)), range(3, 9), [5], [4, 5], [2, 7, 3], [0, 2, 1, 3], [1, 1, 2]]:
        want = model.embed.encode_bag(*_select(ids, offsets, list(idx)))
        for feats in (distinct, flat):
            batch = feats.encode(idx)
            assert _same_inputs(batch, want), list(idx)


def _same_inputs(batch: dict, want: dict) -> bool:
    """Equal bag inputs, where a missing ``bag_weight`` means every bit weight is 1 (the compact
    one-hash features send none) and ``bag_bits`` may be int32 (read for its shape while training)."""
    batch, want = dict(batch), dict(want)
    for d in (batch, want):
        d.setdefault("bag_weight", torch.ones(d["bag_bits"].shape))
        d["bag_bits"] = d["bag_bits"].long()
    return set(batch) == set(want) and all(torch.equal(batch[k], want[k]) for k in want)


def _select(ids, offsets, idx):
    parts = [ids[offsets[i]:offsets[i + 1]] for i in idx]
    return np.concatenate(parts), np.concatenate([[0], np.cumsum([len(p) for p in parts])])


# ---- saved models, training -----------------------------------------------------------------
def test_a_model_saved_with_blake2b_codes_loads_and_predicts_as_it_did():
    """tests/fixtures/blake2b_model was saved by zoo before embed.hash existed (its config has no
    such field); its predictions then are in expected.json."""
    assert "hash" not in json.loads((FIXTURE / "config.json").read_text())["spec"]["model"]["embed"]["config"]
    model = zoo_core.load(FIXTURE)
    assert model.embed.hash == "blake2b" and not bag_capable(model)
    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    got = model.predict(expected["texts"], top_k=3)
    for row, want in zip(got, expected["predictions"]):
        assert [label for label, _ in row["top"]] == [label for label, _ in want["top"]]
        np.testing.assert_allclose([p for _, p in row["top"]], [p for _, p in want["top"]], rtol=1e-6)
    assert zoo_core.build(["embed=hash"]).embed.hash == "fnv1a64"  # new runs get the fast one


SMALL = ["data=wordfreq_langid", "data.options.words_per_language=60", "data.options.languages=[en,de,fi]",
         "dim=16", "embed.num_bits=4096", "train.epochs=2", "train.batch_size=32"]


def test_a_default_recipe_run_drops_its_resume_state_unless_asked_and_predicts_on_the_fast_path(tmp_path):
    result = Trainer(compose(SMALL), tmp_path / "a", progress=False).fit()
    assert result.stopped == "completed" and result.test is not None
    assert (tmp_path / "a" / "model.safetensors").exists() and not (tmp_path / "a" / "training_state").exists()
    Trainer(compose(SMALL + ["train.keep_state=true"]), tmp_path / "b", progress=False).fit()
    assert (tmp_path / "b" / "training_state" / "state.json").exists()
    model = zoo_core.load(tmp_path / "a")
    assert bag_capable(model) and model.embed.hash == "fnv1a64"
    words = ["hello", "haus", "talo", "", "the"]
    fast = model.predict(words, top_k=2)
    slow = model.predict(words, top_k=2, explain=True)  # the padded path, token by token
    assert [r["label"] for r in fast] == [r["label"] for r in slow]
    np.testing.assert_allclose([r["score"] for r in fast], [r["score"] for r in slow], rtol=1e-5)
    one = model.predict(words)  # top_k=1 builds its rows on its own route
    assert [set(r) for r in one] == [{"text", "label", "score", "top"}] * len(words)
    assert [(r["text"], r["label"], r["score"], r["top"]) for r in one] == \
        [(r["text"], r["label"], r["score"], r["top"][:1]) for r in fast]


def test_sorted_unique_sparse_rows_are_flagged_coalesced_and_others_coalesced_as_before():
    from zoo_core.bag import group_rows, group_rows_np, group_rows_torch
    from zoo_core.train.gradients import _flag_or_coalesce

    values = torch.randn(4, 3)
    for rows in ([0, 2, 5, 7], [7], [2, 0, 5, 7], [0, 2, 2, 7]):  # sorted unique, one, unsorted, a duplicate
        grad = torch.sparse_coo_tensor(torch.tensor([rows]), values[:len(rows)], (9, 3))
        got, want = _flag_or_coalesce(grad), grad.coalesce()
        assert got.is_coalesced() and torch.equal(got._indices(), want._indices())
        assert torch.equal(got._values(), want._values()) and torch.equal(got.to_dense(), grad.to_dense())
    rng = np.random.default_rng(0)
    cases = [(0, 50), (1, 50), (3, 2**18), (4000, 2**16), (4000, 2**18), (4000, 2**24), (4000, 2**30),
             (4000, 2**40), (200, 10)]
    for n, num_rows in cases:  # each radix path: 16 bits, 16 + 8, 16 + 16, a plain stable sort
        for dtype in (np.int64, np.int32):
            if num_rows > 2**31 and dtype == np.int32:
                continue
            bits = rng.integers(0, num_rows, (n, 4)).astype(dtype)
            bits[: n // 2, 1] = bits[: n // 2, 0]  # repeated rows, and rows equal in their low 16 bits
            bits[: n // 3, 2] = (bits[: n // 3, 0] + 2**16) % num_rows
            want, want_inverse = np.unique(bits, return_inverse=True)
            want_order = np.argsort(bits.reshape(-1), kind="stable")  # stable: ties keep their order
            want_starts = np.searchsorted(bits.reshape(-1)[want_order], want)
            found, inverse, order, starts = group_rows_np(bits, num_rows)
            assert np.array_equal(found, want) and found.dtype == np.int64
            assert np.array_equal(inverse, want_inverse.reshape(-1))
            assert np.array_equal(order, want_order) and np.array_equal(starts, want_starts)
            # the tensor forms: numpy's on the CPU, torch's sort elsewhere (run here on CPU tensors)
            for got in (group_rows(torch.from_numpy(bits), num_rows), group_rows_torch(torch.from_numpy(bits))):
                assert [g.dtype for g in got] == [torch.int64] * 4
                assert all(np.array_equal(g.numpy(), w) for g, w in
                           zip(got, (want, want_inverse.reshape(-1), want_order, want_starts)))


@pytest.mark.parametrize("num_bits,num_hashes", [(4, 4), (2, 4), (8, 3), (6, 4), (2**18, 4)])
def test_bit_weights_are_first_occurrences_whatever_the_table_size(num_bits, num_hashes):
    """A power-of-two table with no more hash functions than bits never repeats a bit (b is odd);
    the weights are still those of the specification (1 for a bit's first occurrence)."""
    tokens = [f"t{i}" for i in range(300)] + ["", "日本"]
    ids = np.array([featurize.token_id(t) for t in tokens], dtype=np.uint64)
    bits, weight = featurize.hash_bits(ids, num_bits, num_hashes, seed=3)
    for t, row, w in zip(tokens, bits, weight):
        want = featurize.token_bits_int(t, num_bits, num_hashes, 3)
        assert row.tolist() == want
        assert w.tolist() == [float(b not in want[:j]) for j, b in enumerate(want)]
    if num_bits >= num_hashes and num_bits & (num_bits - 1) == 0:
        assert weight.all()


@pytest.mark.parametrize("unit", ["char_ngrams", "words", "chars"])
def test_lower_casing_all_texts_at_once_equals_lower_casing_each(unit):
    """token_ids lower-cases the joined texts in one call: the same ids as text by text, also
    for a final sigma at a text's end (the one context-dependent case), dotted İ (two code
    points when lowered), titlecase ǅ, Unicode spaces, empty and blank texts."""
    from zoo_core.featurize import token_ids

    texts = ["ΟΔΟΣ ΟΔΟΣ'", "Σ", "aΣ", "ΣΣ\tx", "İstanbul", "ǅemal", "  ", "", "a\u00a0b\u3000c", "ΑΣ'", "x ΑΣ\u0301",
             "end Σ"]
    ids, offsets = token_ids(texts, unit)
    ref_ids, ref_offsets = token_ids([t.lower() for t in texts], unit, lowercase=False)
    assert np.array_equal(offsets, ref_offsets) and np.array_equal(ids, ref_ids)


def test_gather_texts_positions_equal_the_concatenated_ranges_with_empty_and_repeated_texts():
    lengths = np.array([3, 0, 1, 5, 0, 2, 0])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for idx in ([0, 1, 2, 3, 4, 5, 6], [3, 3, 0], [1, 4, 6], [6, 5], [2], [], [4, 2, 1, 0, 0]):
        pos, new = featurize.gather_texts(offsets, np.array(idx, dtype=np.int64))
        want = [p for i in idx for p in range(offsets[i], offsets[i + 1])]
        assert pos.tolist() == want and pos.dtype == np.int64
        assert new.tolist() == [0, *np.cumsum([lengths[i] for i in idx]).tolist()]
