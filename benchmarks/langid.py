"""Quality bar of the default recipe: word-level language ID (wordfreq, 42 languages), against
fastText (supervised, character n-grams), a character n-gram naive Bayes and a linear SVM on
tf-idf character n-grams (scikit-learn), all on the same split in the same run.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/langid.py [--protocol split rare] [--words 2000] [--seeds 0 1 2]
                                          [--rare-band 20000 50000] [--rare-per-language 250]
                                          [--out docs/benchmarks/langid.md] [zoo overrides...]

Two protocols (``--protocol``, one or both):

- ``split``: the ``wordfreq_langid`` dataset itself: each language's top ``--words`` words,
  words shared by several languages dropped, shuffled into train/valid/test (80/10/10),
  word-disjoint. Train, validation and test words come from the same frequency range.
- ``rare``: train on ALL of each language's top ``--words`` words (shared words dropped, as
  above); validation and test are two disjoint random samples of ``--rare-per-language`` words
  per language from a much rarer band of its list, ranks ``--rare-band LO HI`` (for a list
  shorter than HI words: from min(LO, half its length) to its end; vi has 10,622 words, so its
  band is ranks 5,311-10,622). A band word is kept only if it is in no other language's list up
  to rank HI (so every word has one answer; this also drops most English loanwords), so the
  three parts are word-disjoint by construction (asserted). Users meet rare words: longer
  words, names, loanwords, inflections never seen in training.

Prints one table per protocol: validation and test accuracy, macro-F1, training seconds and
parameters per method and split seed, zoo's accuracy minus the best baseline's (points) and
each method's time relative to fastText's; with several seeds, also the mean and on how many
splits zoo is ahead of every baseline. zoo's hyper-parameters were chosen on validation
accuracy (docs/benchmarks/langid_tuning.md); fastText uses its documented supervised settings
with character n-grams, naive Bayes alpha 0.1, the SVM C=1 on sublinear tf-idf character
1-5-grams (fixed in advance); the test columns were never used to choose anything.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import load_average, machine_line, publish  # noqa: E402

ZOO = "zoo default recipe"


# ---- the protocols ------------------------------------------------------------------------
def load_rare(seed: int = 0, words_per_language: int = 2000, band: tuple[int, int] = (20000, 50000),
              per_language: int = 250):
    """Train on each language's top words; validation and test from a rarer band (see the docstring)."""
    from wordfreq import available_languages, top_n_list

    from zoo_core.data import DatasetSplits, Examples

    langs = sorted(available_languages("best"))
    lists = {lang: top_n_list(lang, band[1]) for lang in langs}
    top = [(w, lang) for lang in langs for w in lists[lang][:words_per_language]]
    shared = Counter(w for w, _ in top)
    train = [(w, lang) for w, lang in top if shared[w] == 1]
    owners = Counter(w for lang in langs for w in set(lists[lang]))
    rng = random.Random(seed)
    valid, test = [], []
    for lang in langs:
        words = lists[lang]
        lo = min(band[0], len(words) // 2)
        pool = [w for w in words[lo:] if owners[w] == 1]
        rng.shuffle(pool)
        valid += [(w, lang) for w in pool[:per_language]]
        test += [(w, lang) for w in pool[per_language: 2 * per_language]]
    rng.shuffle(train)
    rng.shuffle(valid)
    rng.shuffle(test)
    parts = [{w for w, _ in p} for p in (train, valid, test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]), "rare protocol: parts share words"
    ex = [Examples([w for w, _ in p], [lang for _, lang in p]) for p in (train, valid, test)]
    return DatasetSplits(train=ex[0], valid=ex[1], test=ex[2], name="wordfreq_langid_rare", license="cc-by-sa-4.0",
                         description=f"train: top {words_per_language} words x {len(langs)} languages; valid/test: "
                                     f"{per_language} words per language each from ranks {band[0]}-{band[1]}")


def load_splits(protocol: str, seed: int, args):
    if protocol == "rare":
        return load_rare(seed, args.words, tuple(args.rare_band), args.rare_per_language)
    from zoo_plugins.datasets.langid import load

    return load(seed=seed, words_per_language=args.words)


# ---- the methods: each returns dict(valid=, test=, f1=, seconds=, params=) -----------------------
def run_zoo(splits, overrides, seed):
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer

    run = compose(list(overrides) + [f"seed={seed}"])
    with tempfile.TemporaryDirectory() as tmp:
        t, c = time.perf_counter(), time.process_time()
        result = Trainer(run, Path(tmp) / "m").fit(splits=splits)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
    return dict(valid=result.best["accuracy"], test=result.test["accuracy"], f1=result.test["macro_f1"],
                seconds=seconds, cpu=cpu, params=result.parameters)


def _report(splits, predict, part):
    from sklearn.metrics import accuracy_score, f1_score

    ex = getattr(splits, part)
    pred = predict(ex.texts)
    return accuracy_score(ex.labels, pred), f1_score(ex.labels, pred, average="macro")


def _scored(splits, predict, clock, params):
    seconds, cpu = clock
    valid, _ = _report(splits, predict, "valid")
    test, f1 = _report(splits, predict, "test")
    return dict(valid=valid, test=test, f1=f1, seconds=seconds, cpu=cpu, params=params)


def _clock():
    t, c = time.perf_counter(), time.process_time()
    return lambda: (time.perf_counter() - t, time.process_time() - c)


def run_fasttext(splits, threads):
    import fasttext

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.txt"
        path.write_text("".join(f"__label__{l} {t.lower()}\n" for t, l in zip(splits.train.texts, splits.train.labels)),
                        encoding="utf-8")
        clock = _clock()
        model = fasttext.train_supervised(str(path), minn=1, maxn=4, dim=64, epoch=25, lr=0.5, wordNgrams=1,
                                          thread=threads, verbose=0, seed=0)
        seconds = clock()

    def predict(texts):  # model.predict() breaks on numpy 2: call the binding directly
        return [model.f.predict(t.lower(), 1, 0.0, "strict")[0][1].replace("__label__", "") for t in texts]

    return _scored(splits, predict, seconds, model.get_output_matrix().size + model.get_input_matrix().size)


def run_naive_bayes(splits):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    clock = _clock()
    vec = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True)
    nb = MultinomialNB(alpha=0.1).fit(vec.fit_transform(splits.train.texts), splits.train.labels)
    seconds = clock()
    return _scored(splits, lambda texts: nb.predict(vec.transform(texts)), seconds,
                   int(np.prod(nb.feature_log_prob_.shape)))


def run_svm(splits):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    clock = _clock()
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), lowercase=True, sublinear_tf=True)
    svm = LinearSVC(C=1.0).fit(vec.fit_transform(splits.train.texts), splits.train.labels)
    seconds = clock()
    return _scored(splits, lambda texts: svm.predict(vec.transform(texts)), seconds, int(svm.coef_.size))


BASELINES = {
    "fastText (char 1-4-grams, 25 epochs)": lambda splits, args: run_fasttext(splits, args.threads),
    "naive Bayes (char 1-4-grams)": lambda splits, args: run_naive_bayes(splits),
    "linear SVM (tf-idf char 1-5-grams)": lambda splits, args: run_svm(splits),
}


# ---- the tables ---------------------------------------------------------------------------
def table(protocol: str, rows: list[dict], sizes, args, overrides) -> list[str]:
    train, valid, test = sizes
    seeds = sorted({r["seed"] for r in rows})
    if protocol == "rare":
        head = (f"**Rare-word protocol**: train on the top {args.words} words x 42 languages (shared words dropped), "
                f"validation and test {args.rare_per_language} words per language each from ranks "
                f"{args.rare_band[0]:,}-{args.rare_band[1]:,} (words of one language's list only); ")
    else:
        head = (f"**Split protocol**: wordfreq top {args.words} words x 42 languages, shared words dropped, "
                f"shuffled 80/10/10; ")
    lines = [head + f"train {train:,} / valid {valid:,} / test {test:,} words (word-disjoint), seeds "
             f"{', '.join(map(str, seeds))}, {args.threads} thread(s).", "",
             "| method | seed | valid accuracy | test accuracy | macro-F1 | train s (wall) | train CPU s "
             "| parameters | test − best baseline (points) | wall / fastText | CPU / fastText |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by = {(r["name"], r["seed"]): r for r in rows}
    fast = next(iter(BASELINES))

    def best_baseline(seed):
        return max((r for r in rows if r["seed"] == seed and not r["name"].startswith("zoo")),
                   key=lambda r: r["test"], default=None)

    def margin(r):
        bb = best_baseline(r["seed"])
        return None if bb is None else 100 * (r["test"] - bb["test"])

    for r in rows:
        m = margin(r)
        ft = by.get((fast, r["seed"]))
        ratio = f"{r['seconds'] / ft['seconds']:.2f} | {r['cpu'] / ft['cpu']:.2f}" if ft else "- | -"
        lines.append(f"| {r['name']} | {r['seed']} | {r['valid']:.4f} | {r['test']:.4f} | {r['f1']:.4f} | "
                     f"{r['seconds']:.1f} | {r['cpu']:.1f} | {r['params']:,} | "
                     f"{'-' if m is None else f'{m:+.2f}'} | {ratio} |")
    if len(seeds) > 1:
        lines += ["", f"Mean over the {len(seeds)} splits:", "",
                  "| method | mean test accuracy | min - max | mean train s (wall) | mean wall / fastText | "
                  "mean CPU / fastText | test − best baseline (points, mean; min) | "
                  "splits where the zoo default recipe is more accurate |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name in dict.fromkeys(r["name"] for r in rows):
            mine = [r for r in rows if r["name"] == name]
            accs = [r["test"] for r in mine]
            ft = [r["seconds"] / by[(fast, r["seed"])]["seconds"] for r in mine if (fast, r["seed"]) in by]
            ftc = [r["cpu"] / by[(fast, r["seed"])]["cpu"] for r in mine if (fast, r["seed"]) in by]
            margins = [m for m in map(margin, mine) if m is not None]
            zoo = [by[(ZOO, r["seed"])]["test"] - r["test"] for r in mine if (ZOO, r["seed"]) in by]
            wins = "-" if name == ZOO else f"{sum(d > 0 for d in zoo)} of {len(zoo)}"
            lines.append(f"| {name} | {np.mean(accs):.4f} | {min(accs):.4f} - {max(accs):.4f} | "
                         f"{np.mean([r['seconds'] for r in mine]):.1f} | {np.mean(ft):.2f} | {np.mean(ftc):.2f} | "
                         f"{np.mean(margins):+.2f}; {min(margins):+.2f} | {wins} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", nargs="+", choices=["split", "rare"], default=["split"],
                        help="split: the dataset's own word-disjoint split; rare: train on top words, "
                             "validate and test on rare ones (both: one table each)")
    parser.add_argument("--words", type=int, default=2000, help="top words per language")
    parser.add_argument("--rare-band", type=int, nargs=2, default=[20000, 50000], metavar=("LO", "HI"),
                        help="rare protocol: frequency ranks of the validation and test words")
    parser.add_argument("--rare-per-language", type=int, default=250,
                        help="rare protocol: validation words and test words per language (each)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds of the split (and of zoo's training); one table row per method and seed, "
                             "then the mean over seeds")
    parser.add_argument("--threads", type=int, default=1, help="threads for every method")
    parser.add_argument("--variant", nargs=2, action="append", default=[], metavar=("LABEL", "OVERRIDES"),
                        help="also train zoo with these extra overrides (space-separated, on top of the others), "
                             "shown as 'zoo LABEL'; repeatable")
    parser.add_argument("--zoo-only", action="store_true", help="skip the baselines (tuning runs)")
    parser.add_argument("--out", type=Path, help="also write the tables as Markdown here")
    parser.add_argument("overrides", nargs="*", help="zoo overrides on top of the default recipe")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    overrides = [f"data.options.words_per_language={args.words}", f"threads={args.threads}", *args.overrides]
    lines = [f"Machine: {machine_line()}.", f"zoo overrides: `{' '.join(overrides)}`"]
    lines += [f"zoo {label}: the same plus `{extra}`" for label, extra in args.variant]
    loads = [load_average()]
    for protocol in args.protocol:
        rows, sizes = [], None
        for seed in args.seeds:
            splits = load_splits(protocol, seed, args)
            sizes = sizes or (len(splits.train), len(splits.valid), len(splits.test))
            rows.append(dict(name=ZOO, seed=seed, **run_zoo(splits, overrides, seed)))
            for label, extra in args.variant:
                rows.append(dict(name=f"zoo {label}", seed=seed, **run_zoo(splits, overrides + extra.split(), seed)))
            for name, fn in ({} if args.zoo_only else BASELINES).items():
                try:
                    rows.append(dict(name=name, seed=seed, **fn(splits, args)))
                except ImportError as e:
                    print(f"skipped {name}: {e} (pip install -e '.[bench]')", file=sys.stderr)
            loads.append(load_average())
            print(f"{protocol} seed {seed}: " + ", ".join(f"{r['name']} valid {r['valid']:.4f} test {r['test']:.4f} "
                                                          f"{r['seconds']:.1f} s" for r in rows if r["seed"] == seed),
                  file=sys.stderr)
        lines += [""] + table(protocol, rows, sizes, args, overrides)
    lines += ["", f"Load average (1/5/15 min) at the start and after each split: {', '.join(loads)}."]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
