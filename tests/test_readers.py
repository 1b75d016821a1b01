"""Data the way users keep it: Parquet, datasets' save_to_disk folders and the local Hub cache
(offline, against a dataset this test writes into a cache), with named columns and row-level errors."""
import json

import pytest

from helpers import run_zoo
from zoo_core.data import load_splits, read_file
from zoo_core.errors import ZooError
from zoo_core.overrides import compose
from zoo_core.runspec import DataConfig

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
datasets = pytest.importorskip("datasets")

WORDS = {"en": ["hello", "world", "house", "water", "green", "night"],
         "fr": ["bonjour", "maison", "eau", "vert", "nuit", "monde"]}


def rows():
    return [(w, lang) for lang, ws in WORDS.items() for w in ws]


def write_parquet(path, texts, labels, text="sentence", label="lang"):
    pq.write_table(pa.table({text: texts, label: labels, "other": list(range(len(texts)))}), path)
    return path


def test_parquet_with_named_columns_loads_through_the_override_language(tmp_path):
    path = write_parquet(tmp_path / "train.parquet", *zip(*rows()))
    run = compose([f"data={path}", "data.text=sentence", "data.label=lang"])
    assert (run.data.text, run.data.label) == ("sentence", "lang")
    splits = load_splits(run.data, seed=0)
    assert sorted(splits.train.texts + splits.valid.texts) == sorted(t for t, _ in rows())
    assert set(splits.train.labels) == {"en", "fr"}
    assert "data.text=sentence" in " ".join(__import__("zoo_core").overrides.to_overrides(run))


def test_parquet_missing_column_names_what_it_has_and_the_fix(tmp_path):
    path = write_parquet(tmp_path / "t.parquet", *zip(*rows()))
    with pytest.raises(ZooError) as e:
        load_splits(DataConfig(source=str(path)))  # default columns text/label are absent
    msg = str(e.value)
    assert "no column 'text', 'label'" in msg and "sentence, lang, other" in msg and "data.text=COL" in msg


def test_parquet_bad_values_are_reported_by_row_all_at_once(tmp_path):
    texts, labels = ["ok", None, "fine", "  ", "good"], ["en", "fr", None, "en", "fr"]
    path = write_parquet(tmp_path / "bad.parquet", texts, labels)
    with pytest.raises(ZooError) as e:
        read_file(path, "sentence", "lang")
    assert e.value.problems == [f"{path}: row 2 (column 'sentence'): empty or missing text",
                                f"{path}: row 3 (column 'lang'): empty or missing label",
                                f"{path}: row 4 (column 'sentence'): empty or missing text"]


def test_a_non_parquet_file_with_the_suffix_is_one_line(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_text("text,label\n")
    with pytest.raises(ZooError, match="not a readable Parquet file"):
        read_file(path)


def test_csv_and_jsonl_columns_are_named_the_same_way(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("id,sentence,lang\n1,hello,en\n2,bonjour,fr\n")
    assert read_file(csv, "sentence", "lang").labels == ["en", "fr"]
    with pytest.raises(ZooError, match=r"t.csv:1: header must name 'text' and 'label'.*data.text=COL"):
        read_file(csv)
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(json.dumps({"s": "hello", "y": "en"}) + "\n" + json.dumps({"s": "hi"}) + "\n")
    with pytest.raises(ZooError, match=r"t.jsonl:2: each line must be an object with 's' and 'y' keys"):
        read_file(jsonl, "s", "y")


def test_save_to_disk_folder_keeps_its_splits_and_class_label_names(tmp_path):
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["en", "fr"])})
    texts, labels = zip(*rows())
    ids = [0 if y == "en" else 1 for y in labels]
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": list(texts), "label": ids}, features=features),
        "validation": datasets.Dataset.from_dict({"text": ["water", "eau"], "label": [0, 1]}, features=features),
        "test": datasets.Dataset.from_dict({"text": ["night", "nuit"], "label": [0, 1]}, features=features)})
    dd.save_to_disk(str(tmp_path / "saved"))
    splits = load_splits(DataConfig(source=str(tmp_path / "saved")))
    assert splits.train.labels == list(labels)  # ids mapped back to the ClassLabel names
    assert (splits.valid.texts, splits.valid.labels) == (["water", "eau"], ["en", "fr"])
    assert splits.test.labels == ["en", "fr"]


def _write_hub_cache(cache, repo="org/tiny", sha="a" * 40):
    """A dataset repository as huggingface_hub caches it: refs/main -> snapshots/<sha>/data/*.parquet."""
    root = cache / f"datasets--{repo.replace('/', '--')}"
    data = root / "snapshots" / sha / "data"
    data.mkdir(parents=True)
    texts, labels = zip(*rows())
    write_parquet(data / "train-00000-of-00001.parquet", list(texts), list(labels), "sentence", "lang")
    write_parquet(data / "test-00000-of-00001.parquet", ["eau", "water"], ["fr", "en"], "sentence", "lang")
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(sha)


def test_hf_dataset_from_the_local_hub_cache_trains_offline(tmp_path):
    cache = tmp_path / "hub"
    _write_hub_cache(cache)
    env = {"HF_HUB_CACHE": str(cache), "HF_DATASETS_CACHE": str(tmp_path / "ds"), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1"}
    r = run_zoo("train", "data=hf:org/tiny@main", "data.text=sentence", "data.label=lang", "embed.num_bits=1024",
                "train.epochs=1", "data.valid_fraction=0.3", "train.plots=false", "--out", tmp_path / "m",
                "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    card = (tmp_path / "m" / "README.md").read_text()
    assert ", test 2)" in card  # the cached repository's test split (2 rows) was read and scored
    r = run_zoo("train", "data=hf:org/absent", "--out", tmp_path / "n", env=env)
    assert r.returncode == 2
    assert r.stderr.strip() == ("error: hf:org/absent: not in the local Hub cache and HF_HUB_OFFLINE=1 forbids "
                                "downloading; fetch it once with network access: hf download org/absent "
                                "--repo-type dataset")
