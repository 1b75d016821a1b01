"""Quality bar of the default recipe: word-level language ID (wordfreq, 42 languages,
word-disjoint splits), against fastText (supervised, character n-grams) and a character
n-gram naive Bayes (scikit-learn), all on the same split in the same run.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/langid.py [--words 2000] [--seeds 0 1 2] [--out docs/benchmarks/langid.md]
                                          [zoo overrides...]

Prints a table: accuracy, macro-F1, training seconds, and each one's ratio to zoo's, per split
seed; with several seeds, also the mean and on how many splits zoo is the more accurate.
All three methods see the same split; hyper-parameters were chosen on the validation split
(zoo) or fixed in advance (fastText: its documented supervised settings with character
n-grams; naive Bayes: alpha 0.1), never on the test split.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine_line, publish  # noqa: E402


def run_zoo(splits, overrides, seed):
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer

    run = compose(list(overrides) + [f"seed={seed}"])
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        result = Trainer(run, Path(tmp) / "m").fit(splits=splits)
        seconds = time.perf_counter() - t
    return result.test["accuracy"], result.test["macro_f1"], seconds, result.parameters


def run_fasttext(splits, threads):
    import fasttext

    from zoo_core.metrics import classification_report

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.txt"
        path.write_text("".join(f"__label__{l} {t.lower()}\n" for t, l in zip(splits.train.texts, splits.train.labels)),
                        encoding="utf-8")
        t = time.perf_counter()
        model = fasttext.train_supervised(str(path), minn=1, maxn=4, dim=64, epoch=25, lr=0.5, wordNgrams=1,
                                          thread=threads, verbose=0, seed=0)
        seconds = time.perf_counter() - t
    labels = sorted(set(splits.train.labels))
    index = {l: i for i, l in enumerate(labels)}
    # model.predict() breaks on numpy 2: call the binding directly
    pred = [model.f.predict(t.lower(), 1, 0.0, "strict")[0][1].replace("__label__", "") for t in splits.test.texts]
    report = classification_report([index[l] for l in splits.test.labels], [index[p] for p in pred], labels)
    return report["accuracy"], report["macro_f1"], seconds, model.get_output_matrix().size + model.get_input_matrix().size


def run_naive_bayes(splits):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.naive_bayes import MultinomialNB

    t = time.perf_counter()
    vec = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True)
    x = vec.fit_transform(splits.train.texts)
    nb = MultinomialNB(alpha=0.1).fit(x, splits.train.labels)
    seconds = time.perf_counter() - t
    pred = nb.predict(vec.transform(splits.test.texts))
    params = int(np.prod(nb.feature_log_prob_.shape))
    return accuracy_score(splits.test.labels, pred), f1_score(splits.test.labels, pred, average="macro"), seconds, params


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=2000, help="top words per language")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds of the word-disjoint split (and of zoo's training); one table row per "
                             "method and seed, then the mean over seeds")
    parser.add_argument("--threads", type=int, default=1, help="threads for every method")
    parser.add_argument("--out", type=Path, help="also write the table as Markdown here")
    parser.add_argument("overrides", nargs="*", help="zoo overrides on top of the default recipe")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from zoo_plugins.datasets.langid import load

    overrides = [f"data.options.words_per_language={args.words}", f"threads={args.threads}", *args.overrides]
    rows = []  # (name, seed, acc, f1, seconds, params)
    sizes = {}
    for seed in args.seeds:
        splits = load(seed=seed, words_per_language=args.words)
        sizes[seed] = (len(splits.train), len(splits.valid), len(splits.test))
        rows.append(("zoo default recipe", seed, *run_zoo(splits, overrides, seed)))
        for name, fn in (("fastText (char 1-4-grams, 25 epochs)", lambda: run_fasttext(splits, args.threads)),
                         ("naive Bayes (char 1-4-grams)", lambda: run_naive_bayes(splits))):
            try:
                rows.append((name, seed, *fn()))
            except ImportError as e:
                print(f"skipped {name}: {e} (pip install -e '.[bench]')", file=sys.stderr)
        print(f"seed {seed}: " + ", ".join(f"{r[0]} {r[2]:.4f}" for r in rows if r[1] == seed), file=sys.stderr)
    train, valid, test = sizes[args.seeds[0]]
    lines = [f"Word-level language ID, wordfreq top {args.words} words x 42 languages, shared words dropped; "
             f"train {train:,} / valid {valid:,} / test {test:,} words (word-disjoint), split seeds "
             f"{', '.join(map(str, args.seeds))}, {args.threads} thread(s).",
             f"Machine: {machine_line()}.", f"zoo overrides: `{' '.join(overrides)}`", "",
             "| method | seed | test accuracy | macro-F1 | train s | parameters | accuracy / zoo | time / zoo |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    zoo = {r[1]: r for r in rows if r[0] == "zoo default recipe"}
    for name, seed, acc, f1, sec, params in rows:
        lines.append(f"| {name} | {seed} | {acc:.4f} | {f1:.4f} | {sec:.1f} | {params:,} | "
                     f"{acc / zoo[seed][2]:.3f} | {sec / zoo[seed][4]:.2f} |")
    if len(args.seeds) > 1:
        lines += ["", f"Mean over the {len(args.seeds)} splits:", "",
                  "| method | mean test accuracy | min - max | mean train s | splits where zoo is more accurate |",
                  "|---|---:|---:|---:|---:|"]
        for name in dict.fromkeys(r[0] for r in rows):
            mine = [r for r in rows if r[0] == name]
            accs = [r[2] for r in mine]
            wins = sum(zoo[r[1]][2] > r[2] for r in mine)
            lines.append(f"| {name} | {sum(accs) / len(accs):.4f} | {min(accs):.4f} - {max(accs):.4f} | "
                         f"{sum(r[4] for r in mine) / len(mine):.1f} | "
                         f"{'-' if name == 'zoo default recipe' else f'{wins} of {len(mine)}'} |")
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
