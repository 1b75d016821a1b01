"""Sentence-level classification (issue 20, part 2): WordNet glosses -> their 45 lexicographer
categories (``data=wordnet_glosses``), zoo's recipes and the posts' mixing networks against
fastText (words + word bigrams) and tf-idf word 1-2-grams + a linear SVM, in one table.

Each zoo row is the ``zoo train`` command printed beside it, run in this process (the same
``compose`` of the same overrides) on the same split, with one thread and a fixed epoch
budget; settings were chosen on validation (``--split valid`` prints validation only). Every
finished row is kept in a JSON-lines cache beside the table, so a row can be rerun alone
(``--only NAME``) and the table rebuilt without rerunning the others (``--table-only``).

    .venv/bin/python benchmarks/sentences.py [--only ROW,ROW] [--out docs/benchmarks/sentences.md]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import load_average, machine  # noqa: E402

DATA = ["data=wordnet_glosses"]
# the posts' network (recipe lambda_seed: hash embeddings, 8192 rows, of the words -> MIXER -> POOLER -> linear,
# dim 64, SMORMS3), all 6 epochs run (no early stop: the experiment reads the loss at epoch 6)
NET = ["recipe=lambda_seed", *DATA, "tokenizer.unit=words", "train.epochs=6", "train.patience=6"]
# The rows were measured with the default recipe of their day (4 hashes, a unit-normal table, lazy Adam,
# batch 128, lr 0.01); the default has since moved to 1 hash, init_scale 0.01, row-wise AdaGrad, batch 256
# and lr 0.02, so these rows pin the old values (BAG_BASE's row changes the optimizer and keeps the rest).
BAG_BASE = ["recipe=default", *DATA, "tokenizer.max_tokens=1024", "train.epochs=6", "train.batch_size=128",
            "train.lr=0.01"]
BAG = [BAG_BASE[0], "embed.num_hashes=4", "embed.init_scale=1", "optim.sparse_rule=adam", "optim.sparse_lr_scale=1",
       *BAG_BASE[1:]]
# recipe=glosses (wave 4: fastText-style subword word vectors, gMLP gating width 256, lr 0.02); the rows that
# chose it pin the values it had then (before, recipe=glosses was the row bag-words+gmlpx3-pos): hashed
# subword word vectors under the old recipe's lr 0.01 and gating width 2 * dim
SUBWORD = ["recipe=glosses", "train.lr=0.01", "mixer.0.hidden=128", "mixer.1.hidden=128", "mixer.2.hidden=128"]
# name -> overrides (zoo rows) or None (baselines, run by this script)
ROWS: dict[str, list[str] | None] = {
    "fasttext": None,  # words + word bigrams (wordNgrams=2)
    "tfidf-svm": None,  # tf-idf word 1-2-grams + LinearSVC
    "bag-char": BAG,  # the default recipe: hashed char 1-4-grams, mean, linear
    "bag-words": [*BAG, "tokenizer.unit=words"],
    "bag-words+char": [*BAG, "tokenizer.word_token=true"],
    # the bag's embedder and optimizer (recipe default) over the word sequence, with a mixer before the mean
    "bag-words-pos": [*BAG, "tokenizer.unit=words", "pos=sinusoidal"],
    "bag-words+self_attention-pos": [*BAG, "tokenizer.unit=words", "mixer=self_attention", "pos=sinusoidal"],
    "bag-words+lambda": [*BAG, "tokenizer.unit=words", "mixer=lambda"],
    "bag-words+conv3": [*BAG, "tokenizer.unit=words", "mixer=causal_conv", "mixer.causal=false"],
    "bag-words+gmlp": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64"],
    "bag-words+gmlp-10epochs": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64",
                                "train.epochs=10"],
    "charcnn-words+gmlp": [*BAG_BASE, "tokenizer.unit=words", "embed=char_cnn", "optim=adam", "mixer=gmlp", "mixer.max_len=64",
                           "tokenizer.max_tokens=64"],
    "bag-words+gmlp-dropout0.1": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64",
                                  "tokenizer.max_tokens=64", "token_dropout=0.1"],
    "bag-words+gmlp-hidden256": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64",
                                 "tokenizer.max_tokens=64", "mixer.hidden=256"],
    "bag-words+gmlp-lr0.02": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "train.lr=0.02"],
    "bag-words+gmlp-lr0.04": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "train.lr=0.04"],
    "bag-words+gmlp-lr0.005": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "train.lr=0.005"],
    "bag-words+gmlp-pos": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "pos=sinusoidal"],
    "bag-words+gmlp-pos-lr0.02": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "pos=sinusoidal", "train.lr=0.02"],
    "bag-words+gmlp-pos-learned": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "pos=learned", "max_len=64", ],
    "bag-words+gmlp-pos-hidden256": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "pos=sinusoidal", "mixer.hidden=256"],
    "bag-words+gmlpx2-pos": [*BAG, "tokenizer.unit=words", "mixer=[gmlp,gmlp]", "mixer.0.max_len=64", "mixer.1.max_len=64",
                             "tokenizer.max_tokens=64", "pos=sinusoidal"],
    "bag-words+gmlpx3-pos": [*BAG, "tokenizer.unit=words", "mixer=[gmlp,gmlp,gmlp]", "mixer.0.max_len=64",
                             "mixer.1.max_len=64", "mixer.2.max_len=64", "tokenizer.max_tokens=64", "pos=sinusoidal"],
    "bag-words+gmlpx2-pos-hidden256": [*BAG, "tokenizer.unit=words", "mixer=[gmlp,gmlp]", "mixer.0.max_len=64",
                                       "mixer.1.max_len=64", "mixer.0.hidden=256", "mixer.1.hidden=256",
                                       "tokenizer.max_tokens=64", "pos=sinusoidal"],
    "bag-words+gmlpx3-pos-hidden256": [*BAG, "tokenizer.unit=words", "mixer=[gmlp,gmlp,gmlp]", "mixer.0.max_len=64",
                                       "mixer.1.max_len=64", "mixer.2.max_len=64", "mixer.0.hidden=256",
                                       "mixer.1.hidden=256", "mixer.2.hidden=256", "tokenizer.max_tokens=64",
                                       "pos=sinusoidal"],
    "bag-words+gmlpx4-pos": [*BAG, "tokenizer.unit=words", "mixer=[gmlp,gmlp,gmlp,gmlp]", "mixer.0.max_len=64",
                             "mixer.1.max_len=64", "mixer.2.max_len=64", "mixer.3.max_len=64", "tokenizer.max_tokens=64",
                             "pos=sinusoidal"],
    "bag-words+gmlpx3-pos-dropout0.1": [*BAG, "tokenizer.unit=words", "mixer=[gmlp,gmlp,gmlp]", "mixer.0.max_len=64", "mixer.1.max_len=64",
                                      "mixer.2.max_len=64", "tokenizer.max_tokens=64", "pos=sinusoidal", "token_dropout=0.1"],
    "bag-words+gmlpx3-pos-8epochs": [*BAG, "tokenizer.unit=words", "mixer=[gmlp,gmlp,gmlp]", "mixer.0.max_len=64", "mixer.1.max_len=64",
                                      "mixer.2.max_len=64", "tokenizer.max_tokens=64", "pos=sinusoidal", "train.epochs=8"],
    "bag-words+gmlpx3-pos-dim128": [*BAG, "tokenizer.unit=words", "mixer=[gmlp,gmlp,gmlp]", "mixer.0.max_len=64", "mixer.1.max_len=64",
                                      "mixer.2.max_len=64", "tokenizer.max_tokens=64", "pos=sinusoidal", "dim=128"],
    "bag-words+gmlp-batch64": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "train.batch_size=64"],
    "bag-words+gmlp-seed": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64",
                            "pool=seed_attention"],
    "bag-words+gmlp-dim128": [*BAG, "tokenizer.unit=words", "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64",
                              "dim=128"],
    # recipe=glosses and its variants (issue 20 part 2, wave 4): fastText-style subword word vectors, tuning
    "glosses": ["recipe=glosses"],
    "glosses-subword": SUBWORD,
    "glosses-subword-sum": [*SUBWORD, "embed.reduce=sum"],
    "glosses-subword-2to5": [*SUBWORD, "embed.ngram_min=2", "embed.ngram_max=5"],
    "glosses-subword-hashes2": [*SUBWORD, "embed.num_hashes=2"],
    "glosses-subword-lr0.02": [*SUBWORD, "train.lr=0.02"],
    "glosses-subword-8epochs": [*SUBWORD, "train.epochs=8"],
    "glosses-subword-hashes2-lr0.02": [*SUBWORD, "embed.num_hashes=2", "train.lr=0.02"],
    "glosses-subword-lr0.02-bits2^20": [*SUBWORD, "train.lr=0.02", "embed.num_bits=1048576"],
    "glosses-subword-lr0.02-dropout0.1": [*SUBWORD, "train.lr=0.02", "token_dropout=0.1"],
    "glosses-wordpairs": ["recipe=glosses", "embed.word_ngrams=2"],  # fastText's wordNgrams=2 beside the subwords
    "glosses-no-subword": ["recipe=glosses", "embed=hash", "embed.num_bits=262144", "embed.num_hashes=4",
                           "embed.sparse=true"],  # ablation: the old hashed words under the new gating width and lr
    "net-none-mean": [*NET, "mixer=[]", "pool=mean"],
    "net-none-seed": [*NET, "mixer=[]"],
    "net-none-latent": [*NET, "mixer=[]", "pool=latent_attention"],
    "net-lambda-seed": NET,
    "net-lambda-mean": [*NET, "pool=mean"],
    "net-lambda+positions-seed": [*NET, "mixer.position_lambda=true"],  # relative position lambdas, window 7
    "net-lambdakernel-seed": [*NET, "mixer.normalize=kernel"],
    "net-linear_attention-seed": [*NET, "mixer=linear_attention"],
    "net-hypermixer-seed": [*NET, "mixer=hypermixer"],
    "net-gmlp-seed": [*NET, "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64"],
    "net-gmlp-mean": [*NET, "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "pool=mean"],
    "net-gmlp-seed-dim128": [*NET, "mixer=gmlp", "mixer.max_len=64", "tokenizer.max_tokens=64", "dim=128"],
    "net-gmlpx2-seed": [*NET, "mixer=[gmlp,gmlp]", "mixer.0.max_len=64", "mixer.1.max_len=64", "tokenizer.max_tokens=64"],
    "net-self_attention-seed": [*NET, "mixer=self_attention"],
    "net-self_attention+pos-seed": [*NET, "mixer=self_attention", "pos=sinusoidal"],
    "net-fast_weights-seed": [*NET, "mixer=fast_weights"],
    "net-switch-seed": [*NET, "mixer=switch"],
}


def _accuracy(pred, gold) -> float:
    return sum(p == g for p, g in zip(pred, gold)) / len(gold)


def run_fasttext(splits, epochs: int = 10, lr: float = 1.0, dim: int = 100):
    import fasttext

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.txt"
        path.write_text("".join(f"__label__{l} {t.lower()}\n" for t, l in zip(splits.train.texts, splits.train.labels)),
                        encoding="utf-8")
        t = time.perf_counter()
        model = fasttext.train_supervised(str(path), dim=dim, epoch=epochs, lr=lr, wordNgrams=2, minn=0, maxn=0,
                                          thread=1, verbose=0, seed=0)
        seconds = time.perf_counter() - t

    def predict(texts):  # model.predict() breaks on numpy 2: call the binding directly
        return [model.f.predict(t.lower() + "\n", 1, 0.0, "strict")[0][1].replace("__label__", "") for t in texts]

    return (_accuracy(predict(splits.valid.texts), splits.valid.labels),
            _accuracy(predict(splits.test.texts), splits.test.labels), seconds, f"dim={dim} epoch={epochs} lr={lr}")


def run_svm(splits, c: float = 1.0):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    t = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x = vec.fit_transform(splits.train.texts)
    model = LinearSVC(C=c).fit(x, splits.train.labels)
    seconds = time.perf_counter() - t
    score = lambda part: _accuracy(model.predict(vec.transform(part.texts)), part.labels)  # noqa: E731
    return score(splits.valid), score(splits.test), seconds, f"C={c} sublinear_tf"


def run_zoo(overrides: list[str], splits, seed: int):
    import torch

    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer

    torch.set_num_threads(1)
    run = compose([*overrides, "train.plots=false", f"seed={seed}"])
    curve = Curve()
    with tempfile.TemporaryDirectory() as tmp:
        t, cpu = time.perf_counter(), time.process_time()
        result = Trainer(run, Path(tmp) / "m", callbacks=[curve]).fit(splits=splits)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    # CPU seconds (all of this process's threads: the training thread and the batch-encoding one) compare
    # across loads; wall seconds do not
    return dict(valid=result.best.get("accuracy", float("nan")), test=(result.test or {}).get("accuracy", float("nan")),
                seconds=seconds, cpu_seconds=cpu,
                notes=f"{result.epochs} epochs, {result.parameters:,} parameters, {cpu:.0f} CPU s",
                curve=curve.rows, load=load_average().split("/")[0])


class Curve:
    """Training loss, validation accuracy and seconds after each epoch (a training callback)."""

    def __init__(self):
        self.rows = []

    def on_epoch_end(self, trainer, row):
        self.rows.append({k: round(row[k], 4) for k in ("epoch", "train_loss", "valid_accuracy", "seconds")})


def command(name: str) -> str:
    overrides = ROWS[name]
    if overrides is None:
        return "benchmarks/sentences.py --only '" + name + "'"
    last = {o.split("=", 1)[0]: o for o in overrides}  # a key given twice: the later wins, as in compose
    kept = [o for o in overrides if last[o.split("=", 1)[0]] is o]
    return "zoo train " + " ".join(f"'{o}'" if "[" in o else o for o in kept)


def table(rows: list[dict], seed: int = 0, out: str = "docs/benchmarks/sentences.md") -> str:
    m = machine()
    lines = [
        "WordNet 3.0 glosses -> 45 lexicographer categories (`data=wordnet_glosses`: definitions without "
        f"example sentences, 40,000 train / 8,000 validation / 8,000 test, stratified, split and model seed {seed}). "
        "One thread per run; 6 epochs for zoo; settings chosen on validation; test read once at the end. Each zoo "
        f"command was run with `train.plots=false seed={seed}` added. Regenerate all rows: "
        f"`.venv/bin/python benchmarks/sentences.py --seed {seed} --out {out}` (`--only ROW` reruns one row). "
        "`recipe=glosses` is the row glosses (before wave 4: bag-words+gmlpx3-pos).",
        f"Machine: {m['cpu']}, {m['cores']} cores shared with other jobs, torch {m['torch']}; the load average "
        "(1 minute) at each row's end is beside it: compare seconds within similar loads only.", "",
        "| model | validation | test | train s | load | notes | command |", "|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['valid']:.4f} | {r['test']:.4f} | {r['seconds']:.1f} | {r['load']} | "
                     f"{r['notes']} | `{command(r['name'])}` |")
    return "\n".join(lines) + "\n"


def seed_table(caches: dict[int, Path]) -> str:
    """Rows measured on more than one split seed (the caches of ``--seed N``): validation and test
    per seed and their means; empty when no row has two seeds."""
    done = {seed: read_rows(c) for seed, c in sorted(caches.items())}
    names = [n for n in ROWS if sum(n in d for d in done.values()) > 1]
    if not names:
        return ""
    seeds = list(done)
    lines = ["", "## Across split seeds", "",
             "Rows run on several split seeds (`--seed N --out docs/benchmarks/sentences_seedN.md`; seed 0 is the "
             "table above); each seed is its own split and initialisation. Means over the seeds listed.", "",
             "| model | seeds | validation per seed | test per seed | validation, mean | test, mean |",
             "|---|---|---|---|---:|---:|"]
    for n in names:
        rows = [(s, done[s][n]) for s in seeds if n in done[s]]
        val, test = [r["valid"] for _, r in rows], [r["test"] for _, r in rows]
        lines.append(f"| {n} | {', '.join(str(s) for s, _ in rows)} | {' / '.join(f'{v:.4f}' for v in val)} | "
                     f"{' / '.join(f'{t:.4f}' for t in test)} | {sum(val) / len(val):.4f} | {sum(test) / len(test):.4f} |")
    return "\n".join(lines) + "\n"


def read_rows(cache: Path) -> dict[str, dict]:
    return {r["name"]: r for r in map(json.loads, cache.read_text().splitlines())} if cache.exists() else {}


def keep_row(cache: Path, name: str, row: dict) -> None:
    """Add (or replace) one finished row in the JSON-lines cache, in ROWS order."""
    import fcntl

    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "zoo-sentences.lock", "w") as lock:  # runs of this script in parallel share the cache
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = read_rows(cache)
        done[name] = {"name": name, **row}
        print(json.dumps(done[name]), file=sys.stderr, flush=True)
        cache.write_text("".join(json.dumps(done[n]) + "\n" for n in ROWS if n in done))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated row names (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "benchmarks" / "sentences.md")
    parser.add_argument("--table-only", action="store_true", help="rebuild the table from the cache")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    cache = args.out.with_suffix(".jsonl")
    names = [n.strip() for n in args.only.split(",")] if args.only else list(ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; rows: {list(ROWS)}")
    if not args.table_only:
        from zoo_plugins.datasets.wordnet import load

        splits = load(seed=args.seed)
        for name in names:
            overrides = ROWS[name]
            if overrides is None:
                valid, test, seconds, notes = (run_fasttext if name == "fasttext" else run_svm)(splits)
                row = dict(valid=valid, test=test, seconds=seconds, notes=notes, load=load_average().split("/")[0])
            else:
                row = run_zoo(overrides, splits, args.seed)
            keep_row(cache, name, row)
    done = read_rows(cache)
    rows = [done[n] for n in ROWS if n in done]
    text = table(rows, args.seed, os.path.relpath(args.out, HERE.parent))
    if args.seed == 0:  # the main table also summarises the seeds' tables beside it
        others = {int(p.stem.rsplit("_seed", 1)[1]): p for p in args.out.parent.glob(f"{args.out.stem}_seed*.jsonl")
                  if p.stem.rsplit("_seed", 1)[1].isdigit()}
        text += seed_table({0: cache, **others})
    args.out.write_text("# Sentence-level task: WordNet glosses\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
