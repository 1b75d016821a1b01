"""zoo train / eval / predict on real data (wordfreq language ID, a few languages)."""
import json

import pytest
import torch
from safetensors.torch import load_file

import zoo_core
from zoo_core import ZooError
from zoo_core.data import Examples, read_file, stratified_split
from zoo_core.overrides import compose
from zoo_core.train.loop import Trainer

from helpers import run_zoo, write_tsv

SMALL = ["data=wordfreq_langid", "data.options.words_per_language=120", "data.options.languages=[en,de,fi]",
         "dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "train.batch_size=32", "train.epochs=3", "train.patience=5", "train.lr=0.02",
         "embed.num_bits=1024", "embed.sparse=false", "optim=smorms3",
         "token_dropout=0",  # small data: pinned here, not inherited from the default recipe
         "train.keep_state=true"]  # these tests read the resume state after the run


def train(tmp_path, name, extra=(), resume=False, max_steps=None):
    base = [o for o in SMALL if not ("mixer=[]" in extra and o.startswith("mixer."))]  # no mixer: no mixer fields
    run = compose(base + list(extra))
    trainer = Trainer(run, tmp_path / name, max_steps=max_steps)
    return trainer.fit(resume=resume)


def last_weights(path):
    return {k: v for k, v in load_file(str(path / "training_state" / "state.safetensors")).items()
            if k.startswith("model.")}


def test_same_seed_same_weights_and_a_real_improvement(tmp_path):
    a = train(tmp_path, "a")
    train(tmp_path, "b")
    wa, wb = last_weights(tmp_path / "a"), last_weights(tmp_path / "b")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.stopped == "completed" and a.epochs == 3
    assert a.best["accuracy"] > 0.5  # 3 classes: chance is 1/3
    train(tmp_path, "c", extra=["seed=1"])
    wc = last_weights(tmp_path / "c")
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    log = [json.loads(l) for l in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3] and {"valid_accuracy", "lr", "grad_norm"} <= set(log[0])


@pytest.mark.parametrize("extra", [
    [],
    # sparse gradients: SparseAdam's moments, and SGD's momentum buffer, which is a sparse tensor
    ["embed.sparse=true", "embed.importance=true", "embed.importance_buckets=4096", "optim=sparse_dense"],
    ["embed.sparse=true", "optim=sgd", "optim.momentum=0.9", "train.lr=0.5"],
    # the default recipe's path: a bag model (RowBag), row-wise AdaGrad's per-row state, token dropout
    ["mixer=[]", "pool=mean", "embed.sparse=true", "optim=sparse_dense", "optim.sparse_rule=rowwise_adagrad",
     "optim.sparse_lr_scale=3", "token_dropout=0.25"],
], ids=["dense", "sparse_adam", "sparse_sgd_momentum", "bag_rowwise_adagrad"])
def test_interrupted_and_resumed_run_ends_with_the_same_weights(tmp_path, extra):
    train(tmp_path, "full", extra)
    stopped = train(tmp_path, "cut", extra, max_steps=13)  # mid-way through epoch 2
    assert stopped.stopped == "max_steps" and stopped.steps == 13
    assert (tmp_path / "cut" / "model.safetensors").exists()  # best checkpoint kept
    resumed = train(tmp_path, "cut", extra, resume=True)
    assert resumed.stopped == "completed" and resumed.steps == train_steps(tmp_path / "full")
    full, cut = last_weights(tmp_path / "full"), last_weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)
    def log(name):
        rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k not in ("examples_per_s", "seconds")} for row in rows]

    assert log("cut") == log("full")  # the train loss of the interrupted epoch covers all of it
    best_full = load_file(str(tmp_path / "full" / "model.safetensors"))
    best_cut = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert all(torch.equal(best_full[k], best_cut[k]) for k in best_full)


def test_a_run_stopped_before_its_first_validation_scores_the_checkpoint_it_saved(tmp_path):
    """The test-split figures of the card come from the weights on disk (here the model in
    memory, which was just saved: it is not read back)."""
    from zoo_core.model import ZooModel

    trainer = Trainer(compose(SMALL), tmp_path / "early", progress=False, max_steps=3)
    result = trainer.fit()
    assert result.stopped == "max_steps" and result.epochs == 0 and result.test
    disk = ZooModel.from_pretrained(tmp_path / "early")
    index = {label: i for i, label in enumerate(trainer.labels)}
    want = trainer.task.evaluate(disk, trainer._features(trainer.splits.test.texts, "test"),
                                 [index[label] for label in trainer.splits.test.labels], trainer.labels)
    assert result.test == want  # the same weights and the same code: the same figures


def train_steps(path):
    return json.loads((path / "training_state" / "state.json").read_text())["trainer"]["step"]


def test_wall_clock_budget_ends_cleanly_with_a_checkpoint(tmp_path):
    result = train(tmp_path, "budget", extra=["train.max_minutes=0.00001"])
    assert result.stopped == "max_minutes"
    assert (tmp_path / "budget" / "training_state" / "state.json").exists()


def test_malformed_rows_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_bytes("text\tlabel\nhello\ten\nonly-one-column\n\tde\nbonjour\t\n".encode() + b"caf\xe9\tfr\n")
    r = run_zoo("train", f"data={path}", "--out", tmp_path / "out")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    for text in (f"{path}:3: expected 2 columns, found 1", f"{path}:4: empty or missing text",
                 f"{path}:5: empty or missing label", f"{path}:6: not valid UTF-8"):
        assert text in r.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "b.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": "b"}\nnot json\n')
    with pytest.raises(ZooError, match=r"b.jsonl:2: each line must be an object with 'text' and 'label'"):
        read_file(tmp_path / "b.jsonl")
    (tmp_path / "h.csv").write_text("sentence,category\nhi,x\n")
    with pytest.raises(ZooError, match="header must name 'text' and 'label'"):
        read_file(tmp_path / "h.csv")


def test_stratified_split_is_seeded_and_keeps_every_label():
    ex = Examples([str(i) for i in range(100)], ["a"] * 80 + ["b"] * 18 + ["c"] * 2)
    tr1, va1 = stratified_split(ex, 0.1, seed=0)
    tr2, va2 = stratified_split(ex, 0.1, seed=0)
    _, va3 = stratified_split(ex, 0.1, seed=1)
    assert va1.texts == va2.texts and va1.texts != va3.texts
    assert sorted(va1.labels) == ["a"] * 8 + ["b"] * 2 + ["c"]  # 10% of c's 2 rounds to none; one is kept
    assert set(tr1.labels) == {"a", "b", "c"} and len(tr1) + len(va1) == 100


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    rows = [(w, lang) for lang, words in (("en", ["the", "house", "water", "friend", "night", "green", "would"]),
                                          ("de", ["das", "haus", "wasser", "freund", "nacht", "grün", "würde"]))
            for w in words]
    data = write_tsv(root / "tiny.tsv", rows * 6)
    r = run_zoo("train", f"data={data}", "dim=16", "mixer=lambda", "mixer.heads=2", "pool=seed_attention", "train.epochs=4", "train.batch_size=8",
                "data.valid_fraction=0.2", "--out", root / "model")
    assert r.returncode == 0, r.stderr
    return root, r


def test_train_cli_writes_checkpoint_card_and_summary(trained):
    root, r = trained
    model_dir = root / "model"
    for name in ("model.safetensors", "config.json", "README.md", "metrics.jsonl"):
        assert (model_dir / name).is_file(), name
    assert "best validation accuracy" in r.stdout
    from huggingface_hub import ModelCard

    card = ModelCard.load(model_dir / "README.md")
    assert card.data.library_name == "zoo" and card.data.pipeline_tag == "text-classification"
    assert {"zoo-hash", "zoo-lambda", "zoo-seed_attention"} <= set(card.data.tags)
    assert card.data.eval_results and {e.metric_type for e in card.data.eval_results} == {"accuracy", "f1"}
    assert card.data.datasets == ["tiny"]
    for text in ("## Reproduce", "zoo train data=", "## Components", "Hash Embeddings", "zoo-nlp==",
                 "## Limitations", "## Plugin requirements"):
        assert text in card.text
    config = json.loads((model_dir / "config.json").read_text())
    assert config["spec"]["tokenizer"]["unit"] == "char_ngrams" and config["labels"] == ["de", "en"]


def test_refuses_to_overwrite_a_saved_model(trained):
    root, _ = trained
    before = (root / "model" / "model.safetensors").read_bytes()
    r = run_zoo("train", "data=x.tsv", "--out", root / "model")
    assert r.returncode == 2 and "a model is already saved there" in r.stderr
    assert (root / "model" / "model.safetensors").read_bytes() == before


def test_eval_json_and_confusion_plot(trained, tmp_path):
    root, _ = trained
    r = run_zoo("eval", root / "model", root / "tiny.tsv", "--json", "--plot", tmp_path / "cm.png")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert 0.5 < report["accuracy"] <= 1 and 0 <= report["macro_f1"] <= 1
    again = run_zoo("eval", root / "model", f"data={root / 'tiny.tsv'}", "--json", "--plot", tmp_path / "cm2.png")
    assert again.returncode == 0, again.stderr  # zoo train's spelling of the data, data=FILE, works too
    assert json.loads(again.stdout)["accuracy"] == report["accuracy"]
    assert set(report["per_class"]) == {"de", "en"} and sum(map(sum, report["confusion"])) == 84
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_args_stdin_json_and_explain(trained):
    root, _ = trained
    r = run_zoo("predict", root / "model", "wasser", "water", "--top-k", "2", "--json")
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["wasser", "water"]
    assert all(len(row["top"]) == 2 and abs(sum(p for _, p in row["top"]) - 1) < 1e-5 for row in rows)
    r = run_zoo("predict", root / "model", "--json", "--explain", input="haus\nnight\n")
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["haus", "night"]
    assert len(rows[0]["weights"]) == len(rows[0]["tokens"]) and abs(sum(rows[0]["weights"]) - 1) < 1e-5
    model = zoo_core.load(root / "model")
    assert model.predict(["haus"])[0]["label"] == rows[0]["label"]


def test_resume_needs_a_run_folder(tmp_path):
    r = run_zoo("train", "--resume", tmp_path)
    assert r.returncode == 2 and "no resume state there (the run saved nothing yet); start it again with" in r.stderr


def test_callbacks_see_gradients_steps_and_epochs(tmp_path):
    seen = {"grads": 0, "steps": [], "epochs": [], "start": 0, "end": None}

    class Spy:
        def on_train_start(self, trainer):
            seen["start"] += 1

        def on_after_backward(self, trainer, step):
            grads = [p.grad for p in trainer.model.parameters() if p.requires_grad]
            seen["grads"] += all(g is not None for g in grads)

        def on_step_end(self, trainer, step, loss):
            seen["steps"].append(step)

        def on_epoch_end(self, trainer, row):
            seen["epochs"].append(row["epoch"])

        def on_train_end(self, trainer, result):
            seen["end"] = result.stopped

    run = compose(SMALL + ["train.epochs=2"])
    result = Trainer(run, tmp_path / "cb", callbacks=[Spy()]).fit()
    assert seen["start"] == 1 and seen["end"] == "completed" and seen["epochs"] == [1, 2]
    assert seen["steps"] == list(range(1, result.steps + 1)) and seen["grads"] == result.steps


def test_unknown_task_and_metric_are_clear_errors(tmp_path):
    with pytest.raises(ZooError, match="task=clasification: unknown task; did you mean 'classification'"):
        Trainer(compose(SMALL + ["task=clasification"]), tmp_path / "x")
    with pytest.raises(ZooError, match="train.metric=ndcg: not a validation metric of task classification"):
        Trainer(compose(SMALL + ["train.metric=ndcg", "train.epochs=1"]), tmp_path / "y").fit()


def test_sparse_gradients_with_a_dense_optimizer_is_a_clear_error(tmp_path):
    small = [o for o in SMALL if not o.startswith("embed.")]
    run = compose(small + ["embed=full", "embed.sparse=true", "optim=adamw", "train.epochs=1"])
    with pytest.raises(ZooError, match="optim=adamw cannot take the sparse gradients of full .* use optim=sparse_dense"):
        Trainer(run, tmp_path / "s").fit()


def test_a_run_that_fails_before_saving_leaves_no_folder_and_an_existing_one_untouched(tmp_path):
    data = write_tsv(tmp_path / "d.tsv", [(w, "en") for w in ("water", "house", "tree", "bread")] +
                     [(w, "de") for w in ("wasser", "haus", "baum", "brot")])
    # the default recipe's table has sparse gradients: adamw fails at the first step
    r = run_zoo("train", f"data={data}", "optim=adamw", "train.epochs=1", "--out", tmp_path / "new")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "optim=adamw cannot take the sparse gradients of hash (embed.sparse=true); use optim=sparse_dense" in r.stderr
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    r = run_zoo("train", f"data={data}", "optim=adamw", "train.epochs=1", "--out", tmp_path / "mine")
    assert r.returncode == 2 and (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
