"""Issue 21: valid input handled right, bad input refused in one line (exit 2, no traceback),
two runs never share a folder, and the smaller things a demanding user trips on."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

from zoo_core import ZooError
from zoo_core.data import Examples, load_splits, read_file, stratified_split
from zoo_core.overrides import compose
from zoo_core.runspec import DataConfig

from helpers import ZOO, run_zoo, write_tiny_langid_tsv, zoo_in_process

TINY = ["dim=16", "mixer=lambda", "mixer.heads=2", "pool=mean", "embed.num_bits=256", "train.epochs=2",
        "train.batch_size=16", "train.plots=false"]


def one_line_error(code, err, *expected):
    assert code == 2 and "Traceback" not in err, err
    assert all(text in err for text in expected), err


# ---- case 2: one writer per run folder ----------------------------------------------------
def test_a_second_training_into_a_busy_folder_is_refused(tmp_path, capsys):
    data = write_tiny_langid_tsv(tmp_path / "langid.tsv")
    folder = tmp_path / "run"
    endless = [a for a in TINY if not a.startswith("train.epochs")] + ["train.epochs=100000", "train.patience=100000",
                                                                       "train.save_every=0"]  # saved each epoch
    first = subprocess.Popen([*ZOO, "train", f"data={data}", *endless,
                              "--out", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (folder / "config.json").exists() and first.poll() is None:
            time.sleep(0.2)
        assert first.poll() is None, first.stderr.read()
        code, _, err = zoo_in_process(capsys, "train", f"data={data}", *TINY, "--out", folder)
        one_line_error(code, err, f"another zoo train (pid {first.pid}) is writing there")
        code, _, err = zoo_in_process(capsys, "train", "--resume", folder)
        one_line_error(code, err, "another zoo train")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the killed run's lock names a dead pid: the next run explains and takes over
    with pytest.warns(UserWarning, match=rf"\(pid {first.pid}\) ended without releasing it \(killed or crashed\)"):
        code, _, err = zoo_in_process(capsys, "train", "--resume", folder, "train.max_steps=1")
    assert code == 0, err


# ---- case 4: CSV and TSV dialects -----------------------------------------------------------
def test_csv_quoting_and_tsv_literal_text(tmp_path):
    (tmp_path / "q.csv").write_text('text,label\n"line one\nline two",a\n"Hi,"" she said",b\nplain,a\n'
                                    'bad row\n', encoding="utf-8")
    with pytest.raises(ZooError, match=r"q.csv:6: expected 2 columns, found 1"):  # line numbers count real lines
        read_file(tmp_path / "q.csv")
    (tmp_path / "q.csv").write_text('text,label\n"line one\nline two",a\n"Hi,"" she said",b\n', encoding="utf-8")
    assert read_file(tmp_path / "q.csv").texts == ["line one\nline two", 'Hi," she said']
    (tmp_path / "q.tsv").write_text('text\tlabel\n"Hi," she said\ta\n"quoted"\tb\n', encoding="utf-8")
    assert read_file(tmp_path / "q.tsv").texts == ['"Hi," she said', '"quoted"']  # TSV: text taken literally
    (tmp_path / "open.csv").write_text('text,label\nfine,a\n"never closed,b\n', encoding="utf-8")
    with pytest.raises(ZooError, match=r"open.csv:3: unexpected end of data"):
        read_file(tmp_path / "open.csv")


# ---- case 6: a validation split that can select a model ---------------------------------
def test_tiny_data_gets_a_validation_example_per_class_and_a_warning(tmp_path):
    ex = Examples([str(i) for i in range(9)], ["a"] * 6 + ["b"] * 3)
    _, valid = stratified_split(ex, 0.1, seed=0)
    assert sorted(valid.labels) == ["a", "b"]  # 10% would round to none
    path = tmp_path / "tiny.tsv"
    path.write_text("text\tlabel\n" + "".join(f"w{i}\t{'ab'[i % 2]}\n" for i in range(8)) + "lone\tc\n")
    with pytest.warns(UserWarning, match=r"the validation split has only 2 example\(s\) for 3 classes; no validation "
                                         r"example for c .* train.patience=N >= train.epochs"):
        load_splits(DataConfig(source=str(path)))


# ---- case 7: naming the recipe's own component ---------------------------------------------
def test_naming_the_recipes_own_embedder_keeps_its_16_8_million_parameters():
    default, named = compose([]).model, compose(["embed=hash"]).model
    assert named.embed.config == default.embed.config
    assert named.embed.config["num_bits"] * named.dim == 16_777_216  # not 13k: the recipe's fields are kept


# ---- case 8 and the tracebacks: refused when composing, one line each ----------------------
@pytest.mark.parametrize("args, expected", [
    (["tokenizer.ngram_min=5", "tokenizer.ngram_max=2"], "ngram_min=5 is larger than ngram_max=2"),
    (["dim=32", "dim=128"], "dim: given twice (dim=32 and dim=128); keep one"),
    (["train.lr=inf"], "train.lr: input should be a finite number"),
    (["train.lr=nan"], "train.lr: input should be a finite number"),
    (["dim=2.7"], "dim=2.7: must be a positive whole number"),
    (["seed=99999999999999999999999"], "seed must be a whole number from 0 to 2**63-1"),
    (["task=nope"], "task=nope: unknown task"),
    (["optim=lookahead", "optim.inner=nope"], "optim.inner=nope: unknown optimizer"),
    (["embed.num_bits=100000000000"], "embed=hash: not enough memory to build it (it needs 23,841.9 GiB"),
])
def test_bad_configurations_are_refused_by_zoo_build(capsys, args, expected):
    one_line_error(*zoo_in_process(capsys, "build", "mixer=lambda", *args)[::2], expected)


def test_python_callers_may_still_override_a_base_list():
    assert compose(["dim=32", "dim=48"]).model.dim == 48  # only the command line is strict


def test_out_that_is_a_file_or_unwritable_and_a_bad_resume_value(tmp_path, capsys):
    data = write_tiny_langid_tsv(tmp_path / "langid.tsv")
    (tmp_path / "afile").write_text("x")
    code, _, err = zoo_in_process(capsys, "train", f"data={data}", *TINY, "--out", tmp_path / "afile")
    one_line_error(code, err, "that is a file, not a folder")
    code, _, err = zoo_in_process(capsys, "train", f"data={data}", *TINY, "--out", "/proc/zoo-cannot-write-here")
    one_line_error(code, err, "cannot create the run folder there")
    code, _, err = zoo_in_process(capsys, "train", f"data={data}", *TINY, "train.max_steps=3", "--out",
                                  tmp_path / "run")
    assert code == 0, err
    code, _, err = zoo_in_process(capsys, "train", "--resume", tmp_path / "run", "train.max_steps=abc")
    one_line_error(code, err, "train.max_steps=abc: Input should be a valid integer")
    assert "pydantic.dev" not in err


def test_disk_full_while_saving_is_one_line_and_keeps_the_checkpoint(tmp_path, capsys, monkeypatch):
    data = write_tiny_langid_tsv(tmp_path / "langid.tsv")
    code, _, err = zoo_in_process(capsys, "train", f"data={data}", *TINY, "train.max_steps=3", "--out",
                                  tmp_path / "run")
    assert code == 0, err
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = zoo_in_process(capsys, "train", "--resume", tmp_path / "run")
    monkeypatch.setattr(os, "fsync", real_fsync)
    one_line_error(code, err, "saving failed (the disk is full); the previous checkpoint there, if any, is intact")
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    code, _, err = zoo_in_process(capsys, "train", "--resume", tmp_path / "run")
    assert code == 0, err


# ---- smaller things ------------------------------------------------------------------------
def test_relative_data_resumes_from_anywhere_and_the_card_shows_no_local_path(tmp_path, capsys, monkeypatch):
    (tmp_path / "here").mkdir()
    write_tiny_langid_tsv(tmp_path / "here" / "langid.tsv")
    monkeypatch.chdir(tmp_path / "here")
    code, _, err = zoo_in_process(capsys, "train", "data=langid.tsv", *TINY, "train.max_steps=3", "--out",
                                  tmp_path / "run")
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    code, _, err = zoo_in_process(capsys, "train", "--resume", tmp_path / "run")
    assert code == 0, err
    card = (tmp_path / "run" / "README.md").read_text()
    assert str(tmp_path) not in card and "data=langid.tsv" in card
    from zoo_core.checkpoint import sha256_file

    assert f"`langid.tsv`, sha256 `{sha256_file(tmp_path / 'here' / 'langid.tsv')}`" in card
    assert "pip install -e PATH/TO/zoo" in card  # zoo-nlp is not on PyPI yet
    # zoo eval writes its figure beside the model, not into the current folder
    code, _, err = zoo_in_process(capsys, "eval", tmp_path / "run", tmp_path / "here" / "langid.tsv")
    assert code == 0, err
    assert (tmp_path / "run" / "confusion_matrix.png").is_file() and not (tmp_path / "confusion_matrix.png").exists()


def test_saved_files_are_the_same_bytes_in_two_processes(tmp_path):
    for name in ("a", "b"):
        r = run_zoo("build", "dim=16", "embed.num_bits=64", "mixer=lambda", "mixer.heads=2", "--out", tmp_path / name)
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_version_piped_predictions_and_plugin_next_steps(tmp_path, capsys):
    code, out, _ = zoo_in_process(capsys, "--version")
    assert code == 0 and out.startswith("zoo ")
    data = write_tiny_langid_tsv(tmp_path / "langid.tsv")
    code, out, err = zoo_in_process(capsys, "train", f"data={data}", *TINY, "train.max_steps=2", "--out", tmp_path / "m")
    assert code == 0, err
    text = "a long line of text " * 8
    code, out, err = zoo_in_process(capsys, "predict", tmp_path / "m", text.strip())
    assert code == 0 and len(out.strip().splitlines()) == 1, out  # | cut -f2 works
    code, out, err = zoo_in_process(capsys, "new-plugin", "my_mixer", "--kind", "mixer", "--out", tmp_path / "p")
    assert code == 0, err
    assert f"{sys.executable} -m pytest" in out.replace("\n", " ")
