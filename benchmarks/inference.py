"""Inference throughput: texts/s of zoo's batch prediction (``model.predict(list)``, what
``zoo predict`` runs) and of the exported ONNX model in onnxruntime, tokenisation in Python
included, against fastText's ``predict`` on the same texts, in the same run: the test words
of the word-level language-ID split (wordfreq, 42 languages).

    .venv/bin/pip install -e '.[bench,export]'
    .venv/bin/python benchmarks/inference.py [--epochs 2] [--model DIR] [--out docs/benchmarks/inference.md]

zoo's model is the default recipe trained here for ``--epochs`` (or loaded from ``--model``);
fastText is trained as in benchmarks/langid.py. Everything runs on one thread. Each method
makes one untimed pass (it fills zoo's and the deployment example's per-token code caches,
as in a long-running service) and then ``--repeats`` timed passes over all texts; the table
shows the median, the first (cold) pass, and accuracy as a check that each method predicts
what it should.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import machine_line, publish  # noqa: E402
ROOT = HERE.parent


def deploy_example():
    """The pure-Python deployment code of docs/deploy.md, verbatim."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(# deploy_example\.py.*?)```", text, re.S).group(1)
    namespace = {"__name__": "deploy_example"}
    exec(compile(block, "docs/deploy.md", "exec"), namespace)
    return namespace


def timed(fn, repeats: int):
    """(first pass seconds, median of ``repeats`` further passes, predicted labels)."""
    start = time.perf_counter()
    labels = fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times), labels


def train_fasttext(splits):
    import fasttext

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.txt"
        path.write_text("".join(f"__label__{l} {t.lower()}\n" for t, l in zip(splits.train.texts, splits.train.labels)),
                        encoding="utf-8")
        return fasttext.train_supervised(str(path), minn=1, maxn=4, dim=64, epoch=25, lr=0.5, wordNgrams=1,
                                         thread=1, verbose=0, seed=0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=2000, help="top words per language")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs of zoo's default recipe")
    parser.add_argument("--model", type=Path, help="use this trained zoo model instead of training one")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256, help="texts per batch for zoo and ONNX")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from zoo_core import load as load_model
    from zoo_core.overrides import compose
    from zoo_tools.export import export, input_names
    from zoo_core.tokenize import Tokenizer
    from zoo_core.train.loop import Trainer
    from zoo_plugins.datasets.langid import load

    splits = load(seed=args.seed, words_per_language=args.words)
    texts, gold = splits.test.texts, splits.test.labels
    with tempfile.TemporaryDirectory() as tmp:
        if args.model is None:
            run = compose([f"data.options.words_per_language={args.words}", f"train.epochs={args.epochs}",
                           "threads=1", f"seed={args.seed}"])
            Trainer(run, Path(tmp) / "zoo", progress=False).fit(splits=splits)
        model = load_model(args.model or Path(tmp) / "zoo")
        onnx_path, _ = export(model, "onnx", Path(tmp) / "model.onnx")
        deploy = deploy_example()
        session, meta = deploy["load"](onnx_path)

        def zoo_predict():
            return [row["label"] for row in model.predict(texts)]

        tokenizer, names = Tokenizer(model.run_spec.tokenizer), input_names(model)

        def onnx_zoo_encode():  # zoo's tokenizer and cached encode(), onnxruntime for the network
            out = []
            for start in range(0, len(texts), args.batch_size):
                enc = model.encode(tokenizer.batch(texts[start:start + args.batch_size]))
                logits = session.run(["logits"], {k: enc[k].numpy() for k in names})[0]
                out += [model.labels[i] for i in logits.argmax(-1)]
            return out

        def onnx_pure_python():
            return [label for label, _ in deploy["predict"](session, meta, texts, batch_size=args.batch_size)]

        rows = [("zoo model.predict (torch; EmbeddingBag path, batches of 4096)", zoo_predict),
                ("ONNX + zoo tokenizer/encode (onnxruntime)", onnx_zoo_encode),
                ("ONNX + numpy featurize.py (docs/deploy.md example)", onnx_pure_python)]
        try:
            ft = train_fasttext(splits)
            # model.predict() breaks on numpy 2: call the binding directly, one text at a time
            rows.insert(0, ("fastText predict (per text)",
                            lambda: [ft.f.predict(t.lower(), 1, 0.0, "strict")[0][1][9:] for t in texts]))
        except ImportError as e:
            print(f"skipped fastText: {e} (pip install -e '.[bench]')", file=sys.stderr)
        results = []
        for name, fn in rows:
            first, median, labels = timed(fn, args.repeats)
            acc = sum(p == g for p, g in zip(labels, gold)) / len(gold)
            results.append((name, len(texts) / median, len(texts) / first, acc))
            print(f"  {name}: {len(texts) / median:,.0f} texts/s", file=sys.stderr)
    base = results[0][1]
    lines = [f"Inference throughput on the {len(texts):,} test words of word-level language ID (wordfreq top "
             f"{args.words} x 42 languages), 1 thread, median of {args.repeats} passes after a warm-up pass; "
             f"zoo: default recipe, {'loaded from ' + str(args.model) if args.model else f'{args.epochs} epoch(s)'}.",
             f"Machine: {machine_line()}.", "",
             f"| method | texts/s | texts/s / {results[0][0].split(' ')[0]} | first (cold) pass texts/s | "
             f"test accuracy |",
             "|---|---:|---:|---:|---:|"]
    for name, rate, cold, acc in results:
        lines.append(f"| {name} | {rate:,.0f} | {rate / base:.2f} | {cold:,.0f} | {acc:.4f} |")
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
