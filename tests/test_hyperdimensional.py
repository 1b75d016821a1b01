"""hyperdimensional embedder (Kleyko et al. 2020 / Rahimi et al. 2016): n-gram hypervectors
against torchhd.ngrams on the same item hypervectors; rotation matters (order is encoded);
deterministic seeded item memory; projection options."""
import pytest
import torch

import zoo_core
from zoo_core import load as load_model
from zoo_core.errors import ZooError
from zoo_plugins.embedders import chars
from zoo_plugins.embedders.hyperdimensional import item_memory

D = 1000
PINNED = [1, -1, 1, 1, 1, -1, -1, 1, -1, 1, 1, 1]  # item_memory(5, 300, seed 0)[3, :12]


def build(**cfg):
    return zoo_core.create("embed", "hyperdimensional", **{"dim": 16, "hd_dim": D, **cfg})


WORDS = ["hello", "world", "a", "", "ab", "ba", "🦒", "日本語", "Кириллица", "hellos"]


@pytest.mark.parametrize("ngram", [2, 3, 4])
def test_bundles_equal_torchhd_ngrams_on_the_same_item_hypervectors(ngram):
    torchhd = pytest.importorskip("torchhd")
    emb = build(ngram=ngram)
    ids = emb.encode([WORDS])["chars"][0]  # (T, L) symbol rows incl. begin/end markers
    bundle, count = emb.hypervectors(ids)
    for w, row, got, c in zip(WORDS, ids, bundle, count):
        symbols = row[row != chars.PAD]
        items = torchhd.MAPTensor(emb.items[symbols].float())  # (m, D) bipolar
        n = min(ngram, len(symbols))  # a token shorter than n is one gram of all its symbols
        want = torchhd.ngrams(items, n)
        assert torch.equal(got.float(), want.as_subclass(torch.Tensor)), w
        assert c == len(symbols) - n + 1


def test_rotation_encodes_order():
    """Binding is commutative: without the rotations "ab" and "ba" (markers <ab>, <ba>) would get
    the same hypervector. With them they are nearly orthogonal; shared n-grams give similarity."""
    emb = build(projection="none", dim=D, hd_dim=D)
    h = emb.hypervectors(emb.encode([["ab", "ba", "walking", "talking", "zzqx"]])["chars"][0])[0].float()
    cos = torch.nn.functional.cosine_similarity
    assert abs(cos(h[0], h[1], dim=0)) < 0.15
    assert cos(h[2], h[3], dim=0) > 0.6 and abs(cos(h[2], h[4], dim=0)) < 0.15


def test_item_memory_is_seeded_bipolar_and_stable():
    a, b, c = item_memory(5, 300, 0), item_memory(5, 300, 0), item_memory(5, 300, 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) == {-1, 1} and a.dtype == torch.int8
    # pinned: the same bits on every machine and version (blake2b, not a torch generator)
    assert a[3, :12].tolist() == PINNED
    near = (a.float() @ a.float().t() / 300).fill_diagonal_(0)
    assert near.abs().max() < 0.25  # random hypervectors are quasi-orthogonal


def test_frozen_by_default_learned_and_none_projections():
    emb = build()
    assert not list(emb.parameters()) and "proj" in emb.state_dict() and "items" not in emb.state_dict()
    learned = build(projection="learned")
    assert [n for n, _ in learned.named_parameters()] == ["proj"]
    assert torch.equal(learned.proj.detach(), emb.proj)  # the same seeded start
    batch = [["hello", "world"], ["a"]]
    with torch.no_grad():
        out = emb(emb.encode(batch))
    assert out.shape == (2, 2, 16) and torch.equal(out[1, 1], torch.zeros(16))
    assert 0.3 < out[0].std() < 3  # H / sqrt(count) then N(0, 1/D) projection: about unit scale
    none = build(projection="none", dim=D)
    x = none(none.encode(batch))
    assert x.shape == (2, 2, D)
    bundle, count = none.hypervectors(none.encode([["hello"]])["chars"][0])
    assert torch.allclose(x[0, 0], bundle[0].float() / count[0].float().sqrt())
    with pytest.raises(ZooError, match="hd_dim"):
        build(projection="none", dim=16)


def test_the_frozen_default_meets_every_contract_check_but_gradients():
    from zoo_tools.testing import check_component

    results = {r.check: r for r in check_component("embed", "hyperdimensional")}
    assert all(r.ok for name, r in results.items() if name != "gradients"), results
    assert "does not require grad" in results["gradients"].detail  # nothing trains: frozen by default


def test_a_saved_model_reloads_with_the_same_codes(tmp_path):
    """The item memory is rebuilt from the seed (not saved); the projection is saved."""
    model = zoo_core.build(["embed=hyperdimensional", "embed.hd_dim=512", "embed.projection=learned",
                            "mixer=[self_attention,switch]", "dim=16"])
    model.eval()
    model.labels = ["a", "b"]
    assert "embed.items" not in model.state_dict() and "embed.proj" in model.state_dict()
    batch = model.encode([["bonjour", "le", "monde"], ["hallo"]])
    with torch.no_grad():
        before = model(batch)["logits"]
    model.save_pretrained(tmp_path / "m")
    again = load_model(tmp_path / "m").eval()
    with torch.no_grad():
        assert torch.equal(again(again.encode([["bonjour", "le", "monde"], ["hallo"]]))["logits"], before)
