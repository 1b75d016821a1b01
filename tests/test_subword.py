"""embed=subword_hash: fastText-style word vectors (Bojanowski et al. 2017), one vector per word.

The reference is the definition written out as loops in plain Python: the pieces of ``<w>``,
each piece's bits by the scalar FNV-1a specification (``featurize.token_bits_int``), the sum of
its distinct rows, the mean (or sum) over the pieces.
"""
from __future__ import annotations

import pytest
import torch

import zoo_core
from zoo_core import featurize

WORDS = ["walking", "talked", "a", "", "ça", "日本語", "🦒", "x" * 40]


def make(dim=8, num_bits=97, **cfg):
    torch.manual_seed(0)
    return zoo_core.create("embed", "subword_hash", dim=dim, num_bits=num_bits, **cfg)


def reference(emb, seq: list[str], t: int) -> torch.Tensor:
    word = seq[t]
    marked = "<" + word + ">"
    pieces = [marked] if emb.word else []
    for n in range(emb.ngram_min, emb.ngram_max + 1):
        for i in range(len(marked) - n + 1):
            if marked[i:i + n] != marked:
                pieces.append(marked[i:i + n])
    if not pieces:
        pieces = [marked]
    if emb.word_ngrams == 2 and t > 0:
        pieces.append(seq[t - 1] + " " + word)
    total = torch.zeros(emb.dim, dtype=torch.float64)
    for piece in pieces:
        for bit in set(featurize.token_bits_int(piece, emb.num_bits, emb.num_hashes, emb.seed)):
            total += emb.weight[bit].double()
    return total / len(pieces) if emb.reduce == "mean" else total


@pytest.mark.parametrize("cfg", [{}, {"reduce": "sum"}, {"num_hashes": 3, "ngram_min": 1, "ngram_max": 4},
                                 {"word": False, "ngram_min": 2, "ngram_max": 3}, {"sparse": True, "seed": 7},
                                 {"word_ngrams": 2}, {"word_ngrams": 2, "reduce": "sum", "num_hashes": 2}])
def test_values_match_the_loop(cfg):
    emb = make(**cfg)
    with torch.no_grad():
        out = emb(emb.encode([WORDS[:5], WORDS[5:]]))
    for i, seq in enumerate([WORDS[:5], WORDS[5:]]):
        for t, word in enumerate(seq):
            assert torch.allclose(out[i, t].double(), reference(emb, seq, t), atol=1e-5), (cfg, word)


def test_shape_contract_and_zero_padding():
    emb = make(dim=6)
    inputs = emb.encode([["one", "two", "three"], ["four"], ["five", "six"]])
    assert inputs["mask"].dtype == torch.bool and inputs["mask"].sum(1).tolist() == [3, 1, 2]
    assert inputs["word_offsets"].shape == (6,)
    assert inputs["piece_rows"].shape == inputs["piece_weight"].shape
    assert inputs["rows"].unique().numel() == inputs["rows"].numel()  # each table row once
    out = emb(inputs)
    assert out.shape == (3, 3, 6)
    assert (out[~inputs["mask"]] == 0).all() and (out[inputs["mask"]].abs().sum(1) > 0).all()


@pytest.mark.parametrize("word_ngrams", [1, 2])
def test_padding_on_both_sides(word_ngrams):
    """The real tokens fill the mask's True positions in row-major order, wherever the padding is."""
    emb = make(word_ngrams=word_ngrams)
    batch = [["the", "cat", "sat"], ["on"], ["a", "mat"]]
    inputs = emb.encode(batch)
    with torch.no_grad():
        right = emb(inputs)
        left_mask = inputs["mask"].flip(1)
        left = emb({**inputs, "mask": left_mask})
    for i, seq in enumerate(batch):
        assert torch.equal(left[i, -len(seq):], right[i, :len(seq)])
        assert (left[i, :3 - len(seq)] == 0).all()


def test_one_token_alone_equals_in_a_batch_and_repeats_agree():
    emb = make()
    with torch.no_grad():
        alone = emb(emb.encode([["x"]]))
        batch = emb(emb.encode([["a", "long", "text"], ["x"], ["x", "x", "x"]]))
    assert alone.shape == (1, 1, 8)
    assert torch.allclose(alone[0, 0], batch[1, 0])
    assert torch.equal(batch[2, 0], batch[2, 1]) and torch.equal(batch[2, 1], batch[2, 2])


def test_word_pairs_start_at_each_texts_second_word():
    """word_ngrams=2: a text's first word is its word_ngrams=1 vector (no pair crosses texts); a repeated
    word after the first has the same pair each time."""
    one, two = make(), make(word_ngrams=2)
    batch = [["x", "x", "x"], ["x", "y"]]
    with torch.no_grad():
        a, b = one(one.encode(batch)), two(two.encode(batch))
    assert torch.equal(a[:, 0], b[:, 0]) and torch.equal(b[0, 0], b[1, 0])
    assert not torch.allclose(a[0, 1], b[0, 1]) and torch.equal(b[0, 1], b[0, 2])
    assert not torch.allclose(b[0, 1], b[1, 1])  # the pairs "x x" and "x y" differ


def test_words_share_their_ngrams_rows():
    """Moving the row of the piece 'ing>' moves every word ending in -ing and no other word."""
    emb = make(num_bits=4096, dim=4)
    bits = featurize.token_bits_int("ing>", emb.num_bits, 1)
    words = ["walking", "talking", "cat"]
    before = emb(emb.encode([words])).detach()
    with torch.no_grad():
        emb.weight[bits[0]] += 10
    after = emb(emb.encode([words])).detach()
    moved = (after - before).abs().sum(-1)[0]
    assert moved[0] > 1 and moved[1] > 1 and moved[2] == 0


def test_sparse_gradient_equals_dense_and_touches_used_rows_only():
    dense, sparse = make(), make(sparse=True)
    batch = [["walking", "home"], ["a"]]
    for emb in (dense, sparse):
        inputs = emb.encode(batch)
        (emb(inputs) * torch.arange(1.0, 9.0)).sum().backward()
    assert sparse.weight.grad.is_sparse and not dense.weight.grad.is_sparse
    grad = sparse.weight.grad.coalesce().to_dense()
    assert torch.allclose(grad, dense.weight.grad, atol=1e-6)
    used = set(inputs["rows"].tolist())
    assert {r for r in range(97) if grad[r].abs().sum() > 0} <= used


def test_cache_that_starts_afresh_gives_the_same_vectors():
    small, big = make(cache_size=2), make()
    seqs = [WORDS[:4], WORDS[4:], WORDS[:4]]
    with torch.no_grad():
        for seq in seqs:
            assert torch.equal(small(small.encode([seq])), big(big.encode([seq])))
    assert len(small._cache) <= 2


def test_bad_ngram_range_is_refused_with_the_fix():
    with pytest.raises(Exception, match="ngram_min <= ngram_max"):
        zoo_core.create("embed", "subword_hash", dim=8, ngram_min=5, ngram_max=3)


def test_torchscript_export_matches_zoo_and_onnx_refuses_in_one_line(tmp_path):
    """TorchScript traces the embedder (checked on batches of other shapes than the export's);
    ONNX cannot (the flat inputs' lengths are data-dependent) and says so in one line."""
    import numpy as np

    from zoo_core.errors import ZooError
    from zoo_tools.export import export, input_names, load_artefact

    model = zoo_core.build(["num_classes=3", "dim=16", "tokenizer.unit=words", "embed=subword_hash",
                            "embed.num_bits=512", "embed.word_ngrams=2", "pos=sinusoidal"]).eval()
    model.labels = ["a", "b", "c"]
    path, _ = export(model, "torchscript", tmp_path / "m.torchscript")
    artefact, _ = load_artefact(path)
    for batch in [[["one"]], [["walking", "home"], ["a"]], [[f"w{i}" for i in range(30)], ["z"], ["p", "q"]]]:
        enc = model.encode(batch)
        with torch.no_grad():
            want = model(enc)["logits"].numpy()
        np.testing.assert_allclose(artefact(*[enc[k] for k in input_names(model)]), want, atol=1e-4, rtol=1e-4)
    pytest.importorskip("onnxscript")
    with pytest.raises(ZooError) as e:
        export(model, "onnx", tmp_path / "m.onnx")
    assert e.value.problems[0].startswith("embed=subword_hash cannot be exported to onnx (")
