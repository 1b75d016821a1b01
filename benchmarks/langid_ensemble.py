"""Ensembles for word-level language ID (issue 20): train zoo models (and scikit-learn
baselines) on one protocol of benchmarks/langid.py, keep each one's class probabilities on
validation (and test), and score the averages of several members' probabilities.

    .venv/bin/python benchmarks/langid_ensemble.py --protocol rare --seeds 0 1 2 --preset wave4 --test
    .venv/bin/python benchmarks/langid_ensemble.py --protocol rare --seeds 0 \\
        --member bag "" --member bag5 "tokenizer.ngram_max=5 seed_offset=1" \\
        --member cnn "embed=char_cnn tokenizer.unit=words optim=adam train.lr=0.003 token_dropout=0" \\
        --member nb sklearn:nb --combine bag+cnn --combine bag+bag5+nb [--test]

A member is ``LABEL OVERRIDES``: zoo overrides on top of the default recipe (as in
benchmarks/langid.py: ``data.options.words_per_language``, ``threads=1``, ``train.plots=false``
and ``seed=<split seed>`` come first; ``seed_offset=K`` is this script's own word for
``seed=<split seed + 100 K>``: the same split, another initialisation and batch order), or
``sklearn:nb`` (multinomial naive Bayes on char_wb 1-4-gram counts, alpha 0.1, as in langid.py)
or ``sklearn:logreg`` (logistic regression on sublinear tf-idf char_wb 1-5-grams, C=10), or
``sklearn:svm`` (langid.py's linear SVM, C=1 on sublinear tf-idf char_wb 1-5-grams; its "probabilities"
are a softmax of its decision values, so use it alone, as ``--reference``), or ``lm:ORDER[:D]``
(per-language character n-gram language models, benchmarks/_charlm.py).
Any member may add ``oof=K``: its probabilities of the training words (what a teacher gives
a student) then come from K models trained on the other K-1 folds each (their CPU seconds are
added to its own). A zoo member may name ``teacher=COMBO`` (a combination of earlier members, as for
``--combine``) with ``loss=distill``: it is trained on the combination's probabilities of the
training words as soft targets (Hinton et al. 2015; plugins/losses/distill.py).
``--combine A+B+...`` averages the members' probabilities (equal weights; ``A*2+B`` weighs A
twice; ``log:A+log:B``
averages log-probabilities, a product of experts). Validation decides; ``--test`` also prints
test accuracy (final numbers only).

Probabilities are cached under ``--cache`` (one .npz per protocol, seed and member, keyed by
its overrides), so a new combination costs no training; a cached member keeps the CPU and
wall seconds and load average of the run that made it. Prints one Markdown table.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import load_average  # noqa: E402
from langid import load_splits  # noqa: E402


# the members and combinations measured in docs/benchmarks/langid_tuning.md (wave 4); weights chosen
# on seed-0 validation of the rare protocol, then kept fixed for every seed and both protocols
BEST = "log:bag+log:bag1+log:bag2+log:lm4*1.5+log:cnn*0.5+log:nb*0.5"
# the default recipe of the time these were measured (lazy Adam, batch 128, lr 0.01): pinned, since the
# default has moved on (row-wise AdaGrad, batch 256, lr 0.02; docs/benchmarks/langid_tuning.md wave 4a)
THEN = "optim.sparse_rule=adam optim.sparse_lr_scale=1 train.batch_size=128 train.lr=0.01"
PRESETS = {"wave4": dict(
    member=[("svm", "sklearn:svm"), ("bag", THEN), ("nb", "sklearn:nb"), ("bag1", f"{THEN} seed_offset=1 embed.seed=1"),
            ("bag2", f"{THEN} seed_offset=2 embed.seed=2"),
            ("cnn", "embed=char_cnn tokenizer.unit=words token_dropout=0 optim=adam train.lr=0.003 train.batch_size=128"),
            ("lm4", "lm:4"), ("d2", f"{THEN} teacher={BEST} loss=distill loss.temperature=2 loss.alpha=0.5")],
    combine=["log:bag+log:bag1+log:bag2", "log:bag+log:nb*0.2", "log:bag+log:lm4*0.3",
             "log:bag+log:lm4*0.5+log:cnn*0.2", "log:bag+log:bag1+log:bag2+log:lm4", BEST],
    reference="svm")}


def zoo_overrides(spec: str, seed: int, args) -> list[str]:
    extra, offset = [], 0
    for item in spec.split():
        if item.startswith("seed_offset="):
            offset = int(item.split("=", 1)[1])
        else:
            extra.append(item)
    return [f"data.options.words_per_language={args.words}", f"threads={args.threads}", "train.plots=false",
            f"seed={seed + 100 * offset}", *extra]


def distilling(task, teacher):
    """The run's task, giving the loss the teacher's probabilities of each batch's examples
    (``outputs["teacher_probs"]``, read by ``loss=distill``)."""
    import torch

    class Distilling(type(task)):
        def loss(self, model, outputs, target, idx):
            rows = teacher[torch.as_tensor(idx)].to(outputs["logits"].device)
            return super().loss(model, {**outputs, "teacher_probs": rows}, target, idx)

    task.__class__ = Distilling
    return task


PARTS = ("valid", "test", "train")


def train_zoo(splits, overrides: list[str], teacher: np.ndarray | None = None, parts=PARTS) -> dict:
    """Train (with a teacher's probabilities on the training split: distillation), then the
    best checkpoint's probabilities on validation, test and train."""
    import torch

    from zoo_core.inference import class_probabilities
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer

    run = compose(overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(run, Path(tmp) / "m", progress=False)
        if teacher is not None:
            trainer.task = distilling(trainer.task, torch.as_tensor(teacher, dtype=torch.float32))
            trainer.callbacks[0] = trainer.task
        t, c = time.perf_counter(), time.process_time()
        trainer.fit(splits=splits)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        model = trainer.model  # _finish loaded the best weights into it
        probs = {part: class_probabilities(model, trainer._features(getattr(splits, part).texts, part)).numpy()
                 for part in parts}
    return dict(labels=np.array(trainer.labels), cpu=cpu, wall=wall, **probs)


def train_sklearn(splits, name: str, parts=PARTS) -> dict:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB

    t, c = time.perf_counter(), time.process_time()
    if name.startswith("lm"):  # lm:ORDER[:DISCOUNT]: per-language character n-gram models
        from _charlm import CharLM

        order, _, discount = name[2:].lstrip(":").partition(":")
        clf = CharLM(int(order or 5), float(discount or 0.75)).fit(splits.train.texts, splits.train.labels)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        probs = {part: clf.predict_proba(getattr(splits, part).texts) for part in parts}
        return dict(labels=clf.classes_, cpu=cpu, wall=wall, **probs)
    if name == "nb":
        vec = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True)
        clf = MultinomialNB(alpha=0.1)
    elif name == "svm":  # benchmarks/langid.py's best baseline; softmax of its decision values (no probabilities)
        from scipy.special import softmax
        from sklearn.svm import LinearSVC

        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), lowercase=True, sublinear_tf=True)
        clf = LinearSVC(C=1.0).fit(vec.fit_transform(splits.train.texts), splits.train.labels)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        probs = {part: softmax(clf.decision_function(vec.transform(getattr(splits, part).texts)), axis=1)
                 for part in parts}
        return dict(labels=np.array(clf.classes_), cpu=cpu, wall=wall, **probs)
    elif name == "logreg":
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), lowercase=True, sublinear_tf=True)
        clf = LogisticRegression(C=10.0, max_iter=300)
    else:
        raise SystemExit(f"sklearn:{name}: unknown; use sklearn:nb, sklearn:logreg or lm:ORDER")
    clf.fit(vec.fit_transform(splits.train.texts), splits.train.labels)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    probs = {part: clf.predict_proba(vec.transform(getattr(splits, part).texts)) for part in parts}
    return dict(labels=np.array(clf.classes_), cpu=cpu, wall=wall, **probs)


def out_of_fold(splits, fit, k: int, seed: int) -> tuple[np.ndarray, float]:
    """Each training word's probabilities from a model of the same settings trained on the
    other k-1 folds (a teacher's view of words it has not seen, as rare words are), and the
    CPU seconds of the k fits. Validation still picks each fold model's best epoch."""
    from zoo_core.data import DatasetSplits, Examples

    texts, labels = splits.train.texts, splits.train.labels
    fold = np.random.default_rng(seed).permutation(len(texts)) % k
    out, cpu = None, 0.0
    for f in range(k):
        inside, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        part = DatasetSplits(train=Examples([texts[i] for i in inside], [labels[i] for i in inside]),
                             valid=splits.valid, test=Examples([texts[i] for i in held], [labels[i] for i in held]))
        got = fit(part)
        out = np.zeros((len(texts), got["test"].shape[1])) if out is None else out
        out[held] = got["test"]
        cpu += got["cpu"]
    return out, cpu


def teacher_of(spec: str, members: dict, specs: dict) -> tuple[str, str, np.ndarray | None]:
    """``teacher=COMBO`` in a member's overrides: the combination's probabilities on the training split."""
    rest, combo = [], None
    for item in spec.split():
        if item.startswith("teacher="):
            combo = item.split("=", 1)[1]
        else:
            rest.append(item)
    if combo is None:
        return spec, "", None
    terms = parse_combination(combo)
    missing = [n for n, _ in terms if n.removeprefix("log:") not in members]
    if missing:
        raise SystemExit(f"teacher={combo}: no earlier member named {missing[0]!r} (list teachers first)")
    mixed = average(members, terms, "train")
    if any(n.startswith("log:") for n, _ in terms):  # a mean of log-probabilities: back to probabilities
        mixed = np.exp(mixed - mixed.max(1, keepdims=True))
        mixed /= mixed.sum(1, keepdims=True)
    return " ".join(rest), json.dumps([[specs[n.removeprefix("log:")], n, w] for n, w in terms]), mixed


def member_probs(label: str, spec: str, protocol: str, seed: int, splits, args, members=None) -> dict:
    spec, teacher_key, teacher = teacher_of(spec, members or {}, dict(args.member))
    oof = next((int(t.split("=", 1)[1]) for t in spec.split() if t.startswith("oof=")), 0)
    spec = " ".join(t for t in spec.split() if not t.startswith("oof="))
    if spec.startswith("lm:"):  # lm:ORDER[:DISCOUNT] is trained beside the scikit-learn baselines
        spec = "sklearn:" + spec.replace(":", "", 1)
    key = json.dumps([protocol, seed, args.words, spec if spec.startswith("sklearn:") else
                      zoo_overrides(spec, seed, args)] + ([teacher_key] if teacher_key else [])
                     + ([f"oof={oof}"] if oof else []))
    path = args.cache / f"{protocol}-{seed}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    load = load_average()
    def fit(part, parts=PARTS):
        return (train_sklearn(part, spec.split(":", 1)[1], parts) if spec.startswith("sklearn:")
                else train_zoo(part, zoo_overrides(spec, seed, args), teacher, parts))

    out = fit(splits, PARTS[:2] if oof else PARTS)
    if oof:  # the training words' probabilities out of fold; the k fold fits count as training
        out["train"], extra = out_of_fold(splits, lambda part: fit(part, ("test",)), oof, seed)
        out["cpu"] = out["cpu"] + extra
    out["load"] = np.array(load)
    out["spec"] = np.array(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return out


def parse_combination(text: str) -> list[tuple[str, float]]:
    parts = []
    for term in text.split("+"):
        name, _, weight = term.partition("*")
        parts.append((name.strip(), float(weight) if weight else 1.0))
    return parts


def average(members: dict[str, dict], combination: list[tuple[str, float]], part: str) -> np.ndarray:
    """Weighted mean of the members' probabilities; a name ``log:A`` takes A's log-probabilities
    instead (a weighted geometric mean when every term is ``log:``; only the argmax is used)."""
    total = sum(w for _, w in combination)
    terms = [w * (np.log(np.clip(members[name[4:]][part], 1e-12, None)) if name.startswith("log:")
                  else members[name][part]) for name, w in combination]
    return sum(terms) / total


def accuracy(probs: np.ndarray, labels: np.ndarray, gold: list[str]) -> float:
    return float(np.mean(labels[probs.argmax(1)] == np.array(gold)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", nargs="+", choices=["split", "rare"], default=["rare"],
                        help="one table (and mean table) per protocol")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--member", nargs=2, action="append", default=[], metavar=("LABEL", "OVERRIDES"))
    parser.add_argument("--combine", action="append", default=[], metavar="A+B[*W]+...")
    parser.add_argument("--test", action="store_true", help="also score the test split (final numbers only)")
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--rare-band", type=int, nargs=2, default=[20000, 50000])
    parser.add_argument("--rare-per-language", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("runs/langid_ensemble"))
    parser.add_argument("--preset", choices=sorted(PRESETS), help="add a named set of members, combinations and "
                                                                   "reference (wave4: the tuning log's finalists)")
    parser.add_argument("--out", type=Path, help="also write the tables as Markdown here")
    parser.add_argument("--reference", metavar="LABEL", help="a member to compare with (e.g. sklearn:svm's): "
                                                               "points over it per row, and seeds ahead of it")
    args = parser.parse_args(argv)
    if args.preset:
        preset = PRESETS[args.preset]
        args.member = [list(m) for m in preset["member"]] + args.member
        args.combine = preset["combine"] + args.combine
        args.reference = args.reference or preset["reference"]

    import torch

    torch.set_num_threads(args.threads)
    specs = dict(args.member)
    for combo in args.combine:
        missing = [n for n, _ in parse_combination(combo) if n.removeprefix("log:") not in specs]
        if missing:
            raise SystemExit(f"--combine {combo}: no member named {missing[0]!r}")
    if args.reference and args.reference not in specs:
        raise SystemExit(f"--reference {args.reference}: no member of that label")
    out = []
    for protocol in args.protocol:
        out += ([""] if out else []) + table(protocol, args)
    text = "\n".join(out)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


def table(protocol: str, args) -> list[str]:
    """Each member's and combination's accuracy per seed, then the means (``summary``)."""
    head = "| protocol | seed | member / combination | valid accuracy |" + (" test accuracy |" if args.test else "")
    rows = [head + " train CPU s | load (1 min) |",
            "|---|---:|---|---:|" + ("---:|" if args.test else "") + "---:|---|"]
    scores = {}  # (name, seed) -> (valid, test or None, cpu)
    for seed in args.seeds:
        splits = load_splits(protocol, seed, args)
        members = {}
        for label, spec in args.member:
            members[label] = m = member_probs(label, spec, protocol, seed, splits, args, members)
            assert list(m["labels"]) == list(members[args.member[0][0]]["labels"]), "members disagree on classes"
        labels = members[args.member[0][0]]["labels"]
        lines = ([(label, [(label, 1.0)]) for label, _ in args.member]
                 + [(c, parse_combination(c)) for c in args.combine])
        for name, combo in lines:
            valid = accuracy(average(members, combo, "valid"), labels, splits.valid.labels)
            score = accuracy(average(members, combo, "test"), labels, splits.test.labels) if args.test else None
            test = f" {score:.4f} |" if args.test else ""
            names = [n.removeprefix("log:") for n, _ in combo]
            cpu = sum(float(members[n]["cpu"]) for n in names)
            scores[name, seed] = (valid, score, cpu)
            load = ", ".join(str(members[n]["load"]).split("/")[0] for n in names)
            rows.append(f"| {protocol} | {seed} | {name} | {valid:.4f} |{test} {cpu:.1f} | {load} |")
            print(rows[-1], file=sys.stderr, flush=True)
    return rows + summary(scores, args, protocol)


def summary(scores: dict, args, protocol: str = "") -> list[str]:
    """Means over the seeds, and how each line compares with ``--reference`` seed by seed."""
    names = list(dict.fromkeys(name for name, _ in scores))
    if len(args.seeds) < 2 and not args.reference:
        return []
    ref = args.reference
    title = (f"{protocol.capitalize()} protocol, mean" if protocol else "Mean") + \
        f" over seeds {', '.join(map(str, args.seeds))}" + (f"; reference: {ref}" if ref else "")
    lines = ["", title + ":", "",
             "| member / combination | mean valid | " + ("mean test | test min - max | " if args.test else "")
             + "mean train CPU s | " + (f"valid − {ref} (points, mean; min) | seeds ahead (valid) | " if ref else "")
             + (f"test − {ref} (points, mean; min) | seeds ahead (test) |" if ref and args.test else ""),
             "|---|---:|" + ("---:|---:|" if args.test else "") + "---:|" + ("---:|---:|" if ref else "")
             + ("---:|---:|" if ref and args.test else "")]
    for name in names:
        got = [scores[name, s] for s in args.seeds]
        row = f"| {name} | {np.mean([g[0] for g in got]):.4f} | "
        if args.test:
            tests = [g[1] for g in got]
            row += f"{np.mean(tests):.4f} | {min(tests):.4f} - {max(tests):.4f} | "
        row += f"{np.mean([g[2] for g in got]):.1f} | "
        for part in ([0, 1] if args.test else [0]) if ref else []:
            gaps = [100 * (scores[name, s][part] - scores[ref, s][part]) for s in args.seeds]
            row += f"{np.mean(gaps):+.2f}; {min(gaps):+.2f} | {sum(g > 0 for g in gaps)} of {len(gaps)} | "
        lines.append(row.rstrip())
    return lines


if __name__ == "__main__":
    main()
