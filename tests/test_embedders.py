"""Embedders (hash, char_cnn, char_pos, full) and the positional encodings added after them.

Each test checks behaviour a plausible wrong implementation would get wrong: against an
independent reference computation, across processes, or through a save/load round trip.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch
from torch.nn import functional as F

import zoo_core
from zoo_core.errors import ZooError
from zoo_tools.testing import assert_contract
from zoo_plugins.embedders import chars
from zoo_plugins.embedders.codes import char_row, token_bits

ODD = ["", "🦒", "🙂‍↔️", "日本語", "ça", "Кириллица", "عربى", "mixed-Скрипт-語", "\ud800", " ", "a" * 500]


def make(name, dim=16, **cfg):
    torch.manual_seed(0)
    return zoo_core.create("embed", name, dim=dim, **cfg)


def vectors(emb, words):
    """One vector per word, each embedded as a one-token sequence in one batch."""
    with torch.no_grad():
        return emb(emb.encode([[w] for w in words]))[:, 0]


# ---- hash ------------------------------------------------------------------------------
GOLDEN_BITS = {"": (126, 171, 135, 8), "hello": (15, 189, 151, 87), "Straße": (137, 149, 53, 146),
               "日本語": (64, 67, 3, 150), "🙂": (7, 48, 172, 183), "héllo мир": (14, 138, 175, 102)}


def test_hash_codes_are_pinned():
    """The codes of a saved model must never change: not across machines, Python versions or
    zoo releases. These values were computed once and are fixed."""
    for token, bits in GOLDEN_BITS.items():
        assert token_bits(token, 200, 4, 0) == bits
    assert token_bits("hello", 200, 4, seed=1) != GOLDEN_BITS["hello"]  # the seed salts the hash


SUBPROCESS = """
import json, sys
from zoo_plugins.embedders.codes import char_row, token_bits
words = json.loads(sys.argv[1])
print(json.dumps({"bits": [token_bits(w, 200, 4, 0) for w in words],
                  "chars": [[char_row(c, 2048, 1024) for c in w] for w in words]}))
"""


def test_codes_are_stable_across_processes_with_different_hash_seeds():
    """Hash and character codes are computed in subprocesses with different PYTHONHASHSEED
    values (a salted ``hash()`` would differ between them)."""
    words = ["hello", "", "🦒", "日本語", "Straße", "x" * 40, "\ud800"]
    procs = []
    for seed in ("0", "1", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        procs.append(subprocess.Popen([sys.executable, "-c", SUBPROCESS, json.dumps(words)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    assert all(o == outs[0] for o in outs[1:])
    assert [tuple(b) for b in outs[0]["bits"]] == [token_bits(w, 200, 4, 0) for w in words]
    assert outs[0]["chars"] == [[char_row(c, 2048, 1024) for c in w] for w in words]
    here = make("hash", dim=4, hash="blake2b").encode([words])  # and the embedder uses exactly these codes
    assert here["bits"][0].tolist() == [list(token_bits(w, 200, 4, 0)) for w in words]


def test_hash_vector_is_the_sum_of_the_rows_of_the_set_bits():
    emb = make("hash", num_bits=8, num_hashes=6, hash="blake2b")  # 6 hashes into 8 bits: repeats are certain
    words = ["hello", "world", "", "🦒", "Кириллица"]
    out = vectors(emb, words)
    repeated = 0
    for word, vec in zip(words, out):
        bits = token_bits(word, 8, 6, 0)
        repeated += len(bits) - len(set(bits))
        want = emb.weight[sorted(set(bits))].sum(0)  # a binary code: each set bit counts once
        torch.testing.assert_close(vec, want)
    assert repeated > 0


def test_hash_embeds_any_string_and_unseen_words():
    emb = make("hash")
    out = vectors(emb, ODD + ["neverseenbefore", "neverseenbefore2"])
    assert torch.isfinite(out).all() and (out.abs().sum(1) > 0).all()
    assert len({tuple(v.tolist()) for v in out}) == len(out)  # different strings, different vectors
    again = vectors(emb, ["neverseenbefore"])[0]
    torch.testing.assert_close(again, out[-2])  # same string, same vector, in any batch


def test_hash_parameters_do_not_grow_with_the_vocabulary():
    emb = make("hash", num_bits=100, dim=8)
    before = [(n, p.shape) for n, p in emb.named_parameters()]
    emb.fit([[f"word{i}" for i in range(5000)]])
    emb.encode([[f"other{i}" for i in range(5000)]])
    assert [(n, p.shape) for n, p in emb.named_parameters()] == before
    assert sum(p.numel() for p in emb.parameters()) == 100 * 8


def test_hash_many_hash_functions():
    """num_hashes up to 64 is allowed; one blake2b digest holds only 16 of them."""
    long = token_bits("hello", 200, 40, 0)
    assert len(long) == 40 and long == token_bits("hello", 200, 40, 0)
    assert len(set(long)) > 16  # later blocks are not copies of the first
    emb = make("hash", num_hashes=40)
    assert vectors(emb, ["hello"]).shape == (1, 16)


def test_hash_cache_holds_each_distinct_token_once_and_changes_nothing():
    cached, uncached, tiny = (make("hash", hash="blake2b", cache_size=n) for n in (1_000_000, 0, 3))
    batches = [["a", "b", "a", "c"], ["b", "d", "e", "f", "a"], ["a"]]
    for batch in batches:
        want = uncached.encode([batch])
        for emb in (cached, tiny):
            got = emb.encode([batch])
            assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    assert len(cached._cache) == 6 and set(cached._cache.rows) == set("abcdef")
    assert len(tiny._cache) <= 3 + 5  # a soft limit: it starts afresh before a batch once full


def test_hash_sparse_gradients_equal_the_dense_ones_on_the_rows_used():
    sparse, dense = (make("hash", num_bits=64, num_hashes=2, sparse=s, hash="blake2b") for s in (True, False))
    batch = [["the", "cat", "the"], ["dog"]]
    for emb in (sparse, dense):
        emb(emb.encode(batch)).pow(2).sum().backward()
    grad = sparse.weight.grad
    assert grad.is_sparse and not dense.weight.grad.is_sparse
    torch.testing.assert_close(grad.to_dense(), dense.weight.grad)
    used = {b for w in ("the", "cat", "dog") for b in token_bits(w, 64, 2, 0)}
    assert set(grad.to_dense().abs().sum(1).nonzero().flatten().tolist()) == used
    assert set(grad.coalesce().indices()[0].tolist()) <= used | {0}  # padding points at row 0 with weight 0


def test_hash_importance_weights_each_bit_of_a_token():
    """Svenstrup et al.: v(w) = sum_i P[D(w), i] * W[h_i(w)]; P starts at ones (= the Bloom code)."""
    plain = make("hash", num_bits=50, num_hashes=3, hash="blake2b")
    imp = make("hash", num_bits=50, num_hashes=3, importance=True, importance_buckets=1000, hash="blake2b")
    words = ["hello", "world", "Straße", "🦒"]
    torch.testing.assert_close(vectors(imp, words), vectors(plain, words))  # same init, same vectors
    inputs = imp.encode([[w] for w in words])
    rows = inputs["bucket"][:, 0]
    assert rows.tolist() == [token_bits(w, 1000, 1, 0 ^ 0x5EED_1A9E)[0] for w in words]  # a second, pinned hash
    with torch.no_grad():
        imp.importance[rows[0]] = torch.tensor([2.0, -1.0, 0.5])
    bits = token_bits("hello", 50, 3, 0)
    want = 2.0 * imp.weight[bits[0]] - 1.0 * imp.weight[bits[1]] + 0.5 * imp.weight[bits[2]]
    torch.testing.assert_close(vectors(imp, ["hello"])[0], want)
    torch.testing.assert_close(vectors(imp, words[1:]), vectors(plain, words[1:]))  # other tokens untouched
    imp(imp.encode([["hello", "world"], ["🦒"]])).sum().backward()
    touched = set(imp.importance.grad.abs().sum(1).nonzero().flatten().tolist())
    assert touched == {int(rows[0]), int(rows[1]), int(rows[3])}


def test_hash_importance_survives_save_and_load(tmp_path):
    model = zoo_core.build(["embed=hash", "embed.importance=true", "embed.importance_buckets=512",
                            "embed.num_bits=64", "mixer=identity", "pool=mean", "dim=8"])
    with torch.no_grad():
        model.embed.importance.uniform_(-1, 1)
    model.eval()
    zoo_core.save(model, tmp_path / "m")
    loaded = zoo_core.load(tmp_path / "m")
    batch = [["the", "zebra"], ["dog"]]
    with torch.no_grad():
        a, b = model(model.encode(batch)), loaded(loaded.encode(batch))
    assert torch.equal(a["logits"], b["logits"])
    torch.testing.assert_close(loaded.embed.importance, model.embed.importance)


def test_hash_init_scale_scales_the_initial_table_and_defaults_to_the_old_draw():
    from zoo_plugins.embedders.hash import HashEmbedder

    torch.manual_seed(0)
    old = torch.randn(4096, 16) / 2  # the table before the field existed: N(0, 1/num_hashes), k = 4
    torch.manual_seed(0)
    assert torch.equal(HashEmbedder(num_bits=4096, dim=16, num_hashes=4).weight, old)  # init_scale=1: same draw
    torch.manual_seed(0)
    small = HashEmbedder(num_bits=4096, dim=16, num_hashes=4, init_scale=0.01).weight
    torch.testing.assert_close(small, old * 0.01)
    assert HashEmbedder(num_bits=64, dim=4, init_scale=0.0).weight.abs().sum() == 0
    assert make("hash", init_scale=0.5).init_scale == 0.5  # a config field, recorded like the others
    with pytest.raises(Exception, match="init_scale"):
        make("hash", init_scale=-1.0)


def test_hash_padding_is_zero():
    emb = make("hash")
    inputs = emb.encode([["a", "b", "c"], ["a"]])
    out = emb(inputs)
    assert inputs["mask"].tolist() == [[True, True, True], [True, False, False]]
    assert out[1, 1:].abs().sum() == 0


# ---- characters ------------------------------------------------------------------------
def test_char_rows_are_direct_below_the_table_and_hashed_above():
    assert chars.char_row("a", 2048, 1024) == chars.FIRST_CHAR_ROW + ord("a")
    assert chars.char_row("ж", 2048, 1024) == chars.FIRST_CHAR_ROW + ord("ж")
    for ch in ("日", "🦒", "\U0010ffff"):
        row = chars.char_row(ch, 2048, 1024)
        assert chars.FIRST_CHAR_ROW + 2048 <= row < chars.num_char_rows(2048, 1024)
    assert chars.char_row("🦒", 2048, 1024) == 3 + 2048 + 43  # pinned: stable across processes


def test_long_tokens_keep_their_first_and_last_characters():
    assert chars.clip("abcdefghij", 4) == "abij"
    assert chars.clip("abcdefghij", 5) == "abhij"
    assert chars.clip("abc", 4) == "abc"


def test_distinct_rows_matches_torch_unique():
    g = torch.Generator().manual_seed(0)
    rows = torch.randint(0, 4, (300, 3), generator=g)
    distinct, inverse = chars.distinct_rows(rows)
    assert torch.equal(distinct[inverse], rows)
    assert len(distinct) == len(torch.unique(rows, dim=0))


def highway_reference(emb, y):
    for hw in emb.highways:
        t = torch.sigmoid(hw.gate(y))
        y = t * torch.relu(hw.transform(y)) + (1 - t) * y
    return y


def char_cnn_reference(emb, word):
    """Kim et al. (2016) per word: one F.conv1d per width over the word alone, narrow (no window
    past the word's end; a word shorter than the filter padded to one window), tanh, max over
    time, highway on the concatenated filter outputs, then the projection to dim."""
    ids = torch.tensor([emb.coder.ids(word)])
    x = emb.char_embed(ids).transpose(1, 2)  # (1, char_dim, l)
    feats = []
    for width, conv in zip(emb.widths, emb.convs):
        xw = F.pad(x, (0, max(0, width - x.shape[-1])))  # only a word shorter than the filter is padded
        h = torch.tanh(F.conv1d(xw, conv.weight, conv.bias))  # narrow: l - w + 1 windows
        feats.append(h.max(dim=-1).values)
    y = torch.cat(feats, dim=-1)
    if emb.highway_on == "filters":
        return emb.proj(highway_reference(emb, y))[0]
    return highway_reference(emb, emb.proj(y))[0]


@pytest.mark.parametrize("cfg", [{}, {"widths": [2, 5], "highway_layers": 2, "max_chars": 6},
                                 {"highway_on": "projection", "widths": [1, 3, 7]}])
def test_char_cnn_matches_a_per_word_conv1d_reference(cfg):
    """Issue 15: narrow convolution and highway before the projection, as Kim et al."""
    emb = make("char_cnn", **cfg)
    with torch.no_grad():  # non-zero biases, so a window of padding past the word's end would show
        for conv in emb.convs:
            conv.bias.normal_()
    words = ["a", "beer", "beers", "awesomeness", "", "🦒", "Кириллица", "x" * 50, "beer"]
    batch = [words[:4], words[4:], ["beer"]]  # padded to the batch's longest word
    with torch.no_grad():
        out = emb(emb.encode(batch))
        for i, seq in enumerate(batch):
            for j, word in enumerate(seq):
                torch.testing.assert_close(out[i, j], char_cnn_reference(emb, word), atol=1e-5, rtol=1e-5)
        assert out[2, 1:].abs().sum() == 0


def test_char_cnn_highway_width_follows_the_option():
    paper, small = make("char_cnn"), make("char_cnn", highway_on="projection")
    assert paper.highways[0].gate.in_features == 525 and small.highways[0].gate.in_features == 16


def test_char_cnn_embeds_unseen_words_without_a_vocabulary():
    emb = make("char_cnn")
    params = sum(p.numel() for p in emb.parameters())
    emb.fit([["beer", "is", "awesome"]])  # nothing to fit: no word vocabulary
    out = vectors(emb, ["beer", "beers", "awesomeness", "zqxjk"] + ODD)
    assert torch.isfinite(out).all() and len({tuple(v.tolist()) for v in out}) == len(out)
    assert sum(p.numel() for p in emb.parameters()) == params
    alone = vectors(emb, ["awesomeness"])[0]
    torch.testing.assert_close(alone, out[2])  # independent of the rest of the batch


def char_pos_reference(emb, word, base):
    dim = emb.dim
    total = torch.zeros(dim)
    for i, ch in enumerate(word, start=1):
        code = torch.tensor([math.sin(i / base ** (2 * (d // 2) / dim)) if d % 2 == 0
                             else math.cos(i / base ** (2 * (d // 2) / dim)) for d in range(dim)])
        total += emb.char_embed.weight[chars.char_row(ch, 2048, 1024)] * code
    return total


@pytest.mark.parametrize("dim,base", [(16, 100.0), (7, 10000.0)])
def test_char_pos_is_the_sum_of_char_embeddings_times_position_codes(dim, base):
    emb = make("char_pos", dim=dim, base=base)
    words = ["title", "titles", "eltit", "日本", "🦒x"]
    out = vectors(emb, words)
    with torch.no_grad():
        for word, vec in zip(words, out):
            torch.testing.assert_close(vec, char_pos_reference(emb, word, base), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out[0], out[2])  # order matters: an anagram is another word
    # a suffix adds exactly one term: spelling variants stay close
    suffix = emb.char_embed.weight[chars.char_row("s", 2048, 1024)] * emb.codes[5]
    torch.testing.assert_close(out[1] - out[0], suffix.detach(), atol=1e-5, rtol=1e-5)


def test_char_pos_handles_odd_strings_and_padding():
    emb = make("char_pos")
    inputs = emb.encode([ODD, ["x"]])
    out = emb(inputs)
    assert torch.isfinite(out).all()
    assert out[0, 0].abs().sum() == 0  # "" has no characters: the empty sum
    assert out[1, 1:].abs().sum() == 0


# ---- full ------------------------------------------------------------------------------
DATA = [["the", "cat", "sat"], ["the", "dog", "sat"], ["the", "end"], ["a", "<unk>"]]


def test_full_fit_orders_by_frequency_and_applies_min_count_and_max_size():
    emb = make("full")
    emb.fit(DATA)
    assert emb.vocab == ["the", "sat", "<unk>", "a", "cat", "dog", "end"]  # ties: by the token string
    assert emb.embedding.num_embeddings == 2 + 7
    emb = make("full", min_count=2)
    emb.fit(iter(DATA))  # any iterable, read once
    assert emb.vocab == ["the", "sat"]
    emb = make("full", max_size=1)
    emb.fit(DATA)
    assert emb.vocab == ["the"]


def test_full_unknown_token_policies():
    shared = make("full")
    shared.fit(DATA)
    out = vectors(shared, ["the", "zebra", "okapi", "<unk>"])
    torch.testing.assert_close(out[1], out[2])
    torch.testing.assert_close(out[1], shared.embedding.weight[1].detach())
    assert not torch.allclose(out[3], out[1])  # a literal "<unk>" in the data is an ordinary word

    zero = make("full", unk="zero")
    zero.fit(DATA)
    out = vectors(zero, ["the", "zebra"])
    assert out[0].abs().sum() > 0 and out[1].abs().sum() == 0

    hashed = make("full", unk="hashed", unk_buckets=1000)
    hashed.fit(DATA)
    rows = [hashed.row(w) for w in ("zebra", "okapi", "gnu")]
    assert len(set(rows)) == 3 and all(2 + 7 <= r < 2 + 7 + 1000 for r in rows)
    assert hashed.row("zebra") == 2 + 7 + token_bits("zebra", 1000, 1)[0]  # stable, not hash()

    unfitted = make("full")
    assert unfitted.encode([["the", "cat"]])["ids"].tolist() == [[1, 1]]  # before fit: all unknown


def test_full_sparse_gradients_are_sparse_and_touch_only_used_rows():
    sparse, dense = make("full", sparse=True), make("full")
    for emb in (sparse, dense):
        emb.fit(DATA)
        emb(emb.encode([["the", "cat"], ["zebra"]])).sum().backward()
    grad = sparse.embedding.weight.grad
    assert grad.is_sparse and not dense.embedding.weight.grad.is_sparse
    assert set(grad.coalesce().indices()[0].tolist()) == {1, sparse.row("the"), sparse.row("cat")}
    torch.testing.assert_close(grad.to_dense(), dense.embedding.weight.grad)
    opt = torch.optim.SparseAdam([sparse.embedding.weight], lr=0.1)
    before = sparse.embedding.weight.detach().clone()
    opt.step()
    changed = (sparse.embedding.weight.detach() != before).any(1).nonzero().flatten().tolist()
    assert set(changed) == {1, sparse.row("the"), sparse.row("cat")}


def test_full_state_json_round_trip_restores_identical_outputs():
    emb = make("full", unk="hashed", unk_buckets=8)
    emb.fit(DATA)
    state = json.loads(json.dumps(emb.state_json()))
    again = make("full", unk="hashed", unk_buckets=8)
    again.load_state_json(state)  # before the weights, as a checkpoint loader does
    again.load_state_dict(emb.state_dict())
    batch = [["the", "zebra", "cat"], ["<unk>"]]
    with torch.no_grad():
        assert torch.equal(emb(emb.encode(batch)), again(again.encode(batch)))
    with pytest.raises(ValueError, match="vocab"):
        again.load_state_json({"format": 1, "vocab": ["a", "a"]})
    with pytest.raises(ValueError, match="format"):
        again.load_state_json({"format": 99, "vocab": []})


def test_full_model_save_and_load(tmp_path):
    model = zoo_core.build(["embed=full", "mixer=identity", "pool=mean", "dim=8"])
    model.embed.fit(DATA)
    model.eval()
    zoo_core.save(model, tmp_path / "m")
    loaded = zoo_core.load(tmp_path / "m")
    assert loaded.embed.vocab == model.embed.vocab
    batch = [["the", "zebra"], ["dog"]]
    with torch.no_grad():
        a, b = model(model.encode(batch)), loaded(loaded.encode(batch))
    assert torch.equal(a["logits"], b["logits"])


def test_full_refit_keeps_freeze_and_device():
    emb = make("full", freeze=True)
    emb.requires_grad_(False)  # what zoo_core's instantiate does for freeze=true
    emb.fit(DATA)
    assert emb.embedding.num_embeddings == 9 and not emb.embedding.weight.requires_grad
    emb.load_state_json({"format": 1, "vocab": ["x"]})
    assert emb.embedding.num_embeddings == 3 and not emb.embedding.weight.requires_grad


def test_full_freeze_through_create():
    emb = zoo_core.create("embed", "full", dim=4, freeze=True)
    emb.fit(DATA)
    assert not any(p.requires_grad for p in emb.parameters())


# ---- contracts with non-default options -------------------------------------------------
@pytest.mark.parametrize("name,cfg", [
    ("hash", {"num_hashes": 20, "cache_size": 0}),
    ("hash", {"sparse": True, "importance": True, "importance_buckets": 64}),
    ("char_cnn", {"widths": [2, 3], "highway_layers": 0, "char_table": 128, "char_buckets": 16}),
    ("char_cnn", {"max_chars": 4}),
    ("char_pos", {"base": 10000.0, "max_chars": 3}),
    ("full", {"sparse": True}),
    ("full", {"unk": "hashed", "unk_buckets": 4}),
], ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()))
def test_options_meet_the_contract(name, cfg):
    assert_contract("embed", name, **cfg)


def test_bad_options_are_reported():
    with pytest.raises(ZooError, match="widths"):
        zoo_core.create("embed", "char_cnn", widths=[0, 2])
    with pytest.raises(ZooError, match="unk"):
        zoo_core.create("embed", "full", unk="drop")


# ---- positional encodings (zoo_core.model.PositionalEncoding) -----------------------
def pooled(model, batch):
    model.eval()
    with torch.no_grad():
        return model(model.encode(batch))


def test_without_positions_token_order_does_not_matter_with_them_it_does():
    batch = [["a", "b", "c", "d"], ["d", "c", "b", "a"]]
    plain = pooled(zoo_core.build(["embed=hash", "mixer=identity", "pool=mean", "dim=16"]), batch)
    torch.testing.assert_close(plain["pooled"][0], plain["pooled"][1])
    for pos in ("sinusoidal", "learned"):
        out = pooled(zoo_core.build(["embed=hash", "mixer=identity", "pool=mean", f"pos={pos}", "dim=16"]), batch)
        assert not torch.allclose(out["pooled"][0], out["pooled"][1], atol=1e-4), pos


@pytest.mark.parametrize("dim", [16, 15])
def test_sinusoidal_positions_follow_vaswani(dim):
    model = zoo_core.build(["embed=hash", "mixer=identity", "pool=mean", "pos=sinusoidal", f"dim={dim}",
                            "max_len=50"])
    table = model.pos.table
    assert table.shape == (50, dim)
    for p in (0, 1, 7, 49):
        for i in range(dim):
            angle = p / 10000 ** (2 * (i // 2) / dim)
            want = math.sin(angle) if i % 2 == 0 else math.cos(angle)
            assert abs(table[p, i].item() - want) < 1e-5, (p, i)
    assert "pos.table" not in model.state_dict()  # recomputed, never saved
    inputs = model.encode([["a", "b", "c"], ["a"]])
    emb = model.embed(inputs)
    keep = inputs["mask"].unsqueeze(-1).float()
    torch.testing.assert_close(model.pos(emb) * keep, (emb + table[:3]) * keep)
    states = pooled(model, [["a", "b", "c"], ["a"]])["states"]
    assert states[1, 1:].abs().sum() == 0  # no position code leaks into padding


def test_learned_positions_are_saved_and_trained_only_where_used():
    model = zoo_core.build(["embed=hash", "mixer=identity", "pool=mean", "pos=learned", "dim=8", "max_len=10"])
    assert model.state_dict()["pos.table"].shape == (10, 8)
    model.train()
    out = model(model.encode([["a", "b", "c"], ["a"]]))
    out["pooled"].sum().backward()
    grad = model.pos.table.grad
    assert grad[:3].abs().sum() > 0 and grad[3:].abs().sum() == 0


def test_too_long_sequences_name_max_len():
    model = zoo_core.build(["embed=hash", "mixer=identity", "pool=mean", "pos=sinusoidal", "dim=8", "max_len=4"])
    with pytest.raises(ZooError, match="max_len"):
        model(model.encode([list("abcde")]))


@pytest.mark.parametrize("name", ["hash", "char_pos"])
def test_caches_are_safe_for_concurrent_callers(name):  # hash: fnv1a64 keeps no cache, and is safe too
    """Several threads encoding at once (the trainer prefetches on a worker thread; a server
    may use many) get what a fresh, single-threaded embedder gives."""
    from concurrent.futures import ThreadPoolExecutor

    words = [f"w{i}" for i in range(300)] + ODD
    g = torch.Generator().manual_seed(0)
    batches = [[[words[j] for j in torch.randint(len(words), (5,), generator=g).tolist()] for _ in range(8)]
               for _ in range(30)]
    shared = make(name, cache_size=200)  # small: the cache also starts afresh while others read
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(shared.encode, batches))
    reference = make(name, cache_size=0)
    for batch, got in zip(batches, results):
        want = reference.encode(batch)
        assert all(torch.equal(got[k], want[k]) for k in want)


def test_embedders_stand_alone_and_say_whether_their_gradients_are_sparse():
    from zoo_core.train.gradients import sparse_gradient_params
    from zoo_plugins.embedders.full import FullEmbedder
    from zoo_plugins.embedders.hash import HashEmbedder

    torch.manual_seed(0)
    direct = HashEmbedder(dim=8, num_bits=32, importance=True, sparse=True)
    torch.manual_seed(0)
    registered = zoo_core.create("embed", "hash", dim=8, num_bits=32, importance=True, sparse=True)
    batch = [["a", "b"], ["c"]]
    assert torch.equal(direct(direct.encode(batch)), registered(registered.encode(batch)))
    assert direct.sparse and not FullEmbedder(dim=8).sparse

    class Model(torch.nn.Module):
        def __init__(self, embed):
            super().__init__()
            self.embed = embed

    assert set(sparse_gradient_params(Model(direct))) == {"embed.weight", "embed.importance"}
    assert sparse_gradient_params(Model(FullEmbedder(dim=8))) == {}
