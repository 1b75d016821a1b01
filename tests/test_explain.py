"""Attention explanations of predictions as HTML and PNG files (zoo predict --explain-file)."""
import pytest

from zoo_core.errors import ZooError
from zoo_core.overrides import compose
from zoo_core.train.loop import Trainer
from zoo_tools.explain import write_explanations

from helpers import is_png, write_tiny_langid_tsv, zoo_in_process as zoo


@pytest.fixture(scope="module")
def tiny_tsv(tmp_path_factory):
    return write_tiny_langid_tsv(tmp_path_factory.mktemp("explain") / "tiny.tsv")


def test_explanations_as_html_and_png(tmp_path):
    rows = [{"text": "das <b>haus", "label": "de", "score": 0.9, "top": [("de", 0.9), ("en", 0.1)],
             "tokens": ["das", "<b>haus"], "weights": [0.25, 0.75]},
            {"text": "the house", "label": "en", "score": 0.8, "top": [("en", 0.8)],
             "tokens": ["the", "house"], "weights": [0.6, 0.4]}]
    page = write_explanations(rows, tmp_path / "why.html").read_text()
    assert "das &lt;b&gt;haus" in page and "<b>haus" not in page  # escaped, not markup
    for token, w in (("das", "0.250"), ("&lt;b&gt;haus", "0.750"), ("the", "0.600"), ("house", "0.400")):
        assert f">{token}<small>{w}</small>" in page, token
    assert "rgb(255,115,20)" in page  # the peak token of a text gets the strongest colour
    assert is_png(write_explanations(rows, tmp_path / "why.png"))
    with pytest.raises(ZooError, match=r"\.html or a \.png"):
        write_explanations(rows, tmp_path / "why.txt")


def test_predict_explain_file_from_the_cli(tiny_tsv, tmp_path, capsys):
    Trainer(compose([f"data={tiny_tsv}", "dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "train.epochs=1", "train.plots=false",
                     "tokenizer.unit=words"]), tmp_path / "m").fit()
    code, stdout, stderr = zoo(capsys, "predict", tmp_path / "m", "das haus", "the house", "--explain-file",
                               tmp_path / "why.html")
    assert code == 0, stderr
    page = (tmp_path / "why.html").read_text()
    for token in ("das", "haus", "the", "house"):
        assert f">{token}<small>" in page
    code, _, stderr = zoo(capsys, "predict", tmp_path / "m", "x", "--explain-file", tmp_path / "why.pdf")
    assert code == 2 and "write an .html or a .png file" in stderr and not (tmp_path / "why.pdf").exists()
