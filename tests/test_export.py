"""zoo export: ONNX (onnxruntime) and TorchScript artefacts reproduce zoo's logits on batches
of other shapes than the export example; a component that cannot be exported is named in
one line; the pure-Python deployment example in docs/deploy.md reproduces zoo's predictions."""
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo_core
from zoo_core.errors import ZooError
from zoo_tools import bag_export
from zoo_tools.export import export, input_names, load_artefact

from helpers import run_zoo

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
TEXTS = ["bonjour tout le monde", "hello", "", "Ünïcödé 字 emoji 🙂", "een twee drie vier vijf zes zeven acht",
         "x y", "supercalifragilisticexpialidocious"]
LABELS = ["de", "en", "fr", "nl", "zh"]


def small_model(*overrides):
    model = zoo_core.build(["num_classes=5", "dim=32", "tokenizer.unit=char_ngrams", *overrides])
    model.labels = list(LABELS)
    return model.eval()


def zoo_logits(model, token_lists):
    with torch.no_grad():
        return model(model.encode(token_lists))["logits"].numpy()


def artefact_logits(model, artefact, token_lists):
    enc = model.encode(token_lists)
    return artefact(*[enc[k] for k in input_names(model)])


# other batch sizes and lengths than the export example (3 x 5 tokens)
BATCHES = [[["one"]], [["a", "b"], ["c", "d"]], [[f"w{i}" for i in range(40)], ["z"], ["p", "q", "r"]]]


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = small_model()
    path, meta = export(model, "onnx", tmp_path_factory.mktemp("onnx") / "model.onnx")
    return model, path, meta


def test_onnx_bag_graph_matches_zoo_with_dynamic_batch_and_length(onnx_export):
    model, path, meta = onnx_export  # the default model: a bag model (no mixer, mean pooling)
    artefact, info = load_artefact(path)
    assert info["graph"] == "bag" and info["pooling"] == "mean"
    assert [i["name"] for i in info["inputs"]] == ["bag_bits", "bag_text", "bag_scale"]
    assert [i["shape"] for i in info["inputs"]] == [["tokens", model.embed.num_hashes], ["tokens"], ["batch"]]
    assert info["labels"] == LABELS and info["embed"]["name"] == "hash"
    for batch in BATCHES:
        got, want = artefact(*bag_export.example(model, batch)), zoo_logits(model, batch)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_the_bag_graph_folds_a_linear_head_into_the_table_and_keeps_other_heads(tmp_path):
    """A linear head becomes part of the table ([E; 0] Wᵀ: C-wide rows, the bias added after the
    scaled sum); another head (centroid: cosine to class vectors) runs on the pooled vector.
    Both give zoo's logits through onnxruntime."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    linear = small_model()
    folded = bag_export.BagGraph(linear)
    assert folded.folded and folded.head is None and tuple(folded.table.shape) == (linear.embed.num_bits + 1, 5)
    torch.testing.assert_close(folded.table[-1], torch.zeros(5))  # the zero row stays zero
    centroid = small_model("head=centroid")
    with torch.no_grad():
        centroid.head.classes.normal_()  # class vectors of a trained head (fresh ones are all zero)
    kept = bag_export.BagGraph(centroid)
    assert not kept.folded and kept.table.shape[1] == 32
    for i, model in enumerate([linear, centroid]):
        path, _ = export(model, "onnx", tmp_path / f"m{i}.onnx")
        artefact, info = load_artefact(path)
        assert info["graph"] == "bag"
        for batch in BATCHES:
            np.testing.assert_allclose(artefact(*bag_export.example(model, batch)), zoo_logits(model, batch),
                                       atol=1e-4, rtol=1e-4)


def test_onnx_padded_graph_of_a_sequence_model_matches_zoo(tmp_path):
    pytest.importorskip("onnxscript")
    model = small_model("mixer=lambda", "embed.num_bits=512")
    path, _ = export(model, "onnx", tmp_path / "m.onnx")
    artefact, info = load_artefact(path)
    assert info["graph"] == "padded" and [i["name"] for i in info["inputs"]] == ["bits", "bit_weight", "mask"]
    assert info["inputs"][0]["shape"][:2] == ["batch", "tokens"]
    for batch in BATCHES:
        np.testing.assert_allclose(artefact_logits(model, artefact, batch), zoo_logits(model, batch),
                                   atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("extra", [["mixer=gmlp"], ["mixer=gmlp", "mixer.max_len=8", "tokenizer.max_tokens=8"]],
                         ids=["max_len_512", "max_len_equal_to_max_tokens"])
def test_onnx_gmlp_needs_no_data_dependent_branch_and_matches_zoo(tmp_path, extra):
    """gMLP moves real tokens first (no torch.sort: ONNX has none for it) and its spatial weights
    are sliced to the batch's length, bounded by the tokenizer's max_tokens (the token axis of a
    padded graph), also when that is the weights' whole size (8 tokens here)."""
    pytest.importorskip("onnxscript")
    model = small_model(*extra, "embed.num_bits=512")
    path, _ = export(model, "onnx", tmp_path / "m.onnx")
    artefact, info = load_artefact(path)
    assert info["graph"] == "padded"
    for batch in [[["one"]], [["a", "b"], ["c", "d"]], [[f"w{i}" for i in range(8)], ["z"], ["p", "q", "r"]]]:
        np.testing.assert_allclose(artefact_logits(model, artefact, batch), zoo_logits(model, batch),
                                   atol=1e-4, rtol=1e-4)


def test_onnx_bag_graph_with_numpy_featurizer_gives_zoos_probabilities(tmp_path):
    """num_bits=13 with 4 hashes: many tokens repeat a bit (weight 0 -> the graph's zero row)."""
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    model = small_model("embed.num_bits=13", "embed.num_hashes=4", "tokenizer.max_tokens=30")
    with torch.no_grad():
        model.head.bias.add_(torch.arange(5.0))  # a bias that matters: scores differ by label
    path, meta_path = export(model, "onnx", tmp_path / "m.onnx")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    spec = importlib.util.spec_from_file_location("featurize_copy", tmp_path / meta["featurizer"])
    featurize_copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(featurize_copy)
    texts = TEXTS + ["a", "ab " * 40, "  ", "z"]  # empty, one token, truncated to max_tokens, whitespace only
    inputs = featurize_copy.Featurizer(meta)(texts)
    assert (inputs["bag_bits"] == 13).any()  # repeated bits point at the zero row
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs = torch.from_numpy(session.run(["logits"], inputs)[0]).softmax(-1)
    want = model.predict(texts, top_k=5)
    for p, row in zip(probs, want):
        np.testing.assert_allclose([p[LABELS.index(label)] for label, _ in row["top"]], [q for _, q in row["top"]],
                                   atol=1e-5, rtol=0)


def test_torchscript_matches_zoo_and_cli_writes_it(tmp_path):
    model = small_model("mixer=[lambda,self_attention]", "mixer.1.heads=2")
    model.save(tmp_path / "m")
    r = run_zoo("export", tmp_path / "m", "--format", "torchscript")
    assert r.returncode == 0, r.stderr
    path = tmp_path / "m" / "model.torchscript"
    artefact, info = load_artefact(path)
    assert info["format"] == "torchscript"
    loaded = zoo_core.load(tmp_path / "m")
    for batch in BATCHES:
        np.testing.assert_allclose(artefact_logits(loaded, artefact, batch), zoo_logits(loaded, batch),
                                   atol=1e-4, rtol=1e-4)


def test_a_component_that_cannot_export_is_named_in_one_line(tmp_path):
    pytest.importorskip("onnxscript")
    model = small_model("mixer=[lambda,gru]")  # packed sequences: torch.export cannot trace them
    with pytest.raises(ZooError) as e:
        export(model, "onnx", tmp_path / "m.onnx")
    (line,) = e.value.problems
    assert "\n" not in line
    assert line.startswith("mixer.1=gru cannot be exported to onnx (")
    assert line.endswith("; use --format torchscript, which works for it")
    assert not (tmp_path / "m.onnx").exists()


def test_cli_rejects_an_unknown_format_without_traceback(tmp_path):
    r = run_zoo("export", tmp_path, "--format", "tflite")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: --format tflite: unknown export format; choose onnx or torchscript"


def test_deploy_example_reproduces_zoo_predictions(onnx_export):
    model, path, _ = onnx_export
    block = re.search(r"```python\n(# deploy_example\.py.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    namespace = {"__name__": "deploy_example"}
    exec(compile(block, str(DOC), "exec"), namespace)  # the documented code, verbatim
    session, meta = namespace["load"](path)
    got = namespace["predict"](session, meta, TEXTS, batch_size=3)
    want = model.predict(TEXTS)
    assert [label for label, _ in got] == [row["label"] for row in want]
    np.testing.assert_allclose([p for _, p in got], [row["score"] for row in want], atol=1e-5)
