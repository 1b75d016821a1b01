"""Inference throughput: texts/s of zoo's batch prediction (``model.predict(list)``, what
``zoo predict`` runs) and of the exported ONNX model in onnxruntime, tokenisation in Python
included, against fastText's ``predict`` on the same texts, in the same run: the test words
of the word-level language-ID split (wordfreq, 42 languages).

    .venv/bin/pip install -e '.[bench,export]'
    .venv/bin/python benchmarks/inference.py [--epochs 2] [--model DIR] [--hashes 2,1] [--out docs/benchmarks/inference.md]

zoo's model is the default recipe trained here for ``--epochs`` (or loaded from ``--model``);
fastText is trained as in benchmarks/langid.py; ``--hashes 2,1`` adds the recipe trained with
fewer hash functions (rows ``embed.num_hashes=...``). Everything runs on one thread. Each
method makes a first pass, then ``--repeats`` rounds run every method once over all texts
(interleaved: load changes hit all alike); the table shows the median texts per CPU-second
(primary) and per wall-clock second, the first (cold) pass,
and accuracy as a check that each method predicts what it should. The ONNX rows run
docs/deploy.md's example verbatim (numpy featurize.py + onnxruntime; a bag model exports the
bag-form graph, zoo_tools/bag_export.py).
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


def interleaved(fns: dict, repeats: int):
    """{name: (first pass wall seconds, median wall seconds, median CPU seconds, labels)}: a
    first pass each (the cold figure), then ``repeats`` rounds that run every method once, so
    a change in the machine's load hits all methods alike. CPU seconds (process time: every
    method runs in this process, on one thread) move less with other people's jobs."""
    first, labels, wall, cpu = {}, {}, {name: [] for name in fns}, {name: [] for name in fns}
    for name, fn in fns.items():
        start = time.perf_counter()
        labels[name] = fn()
        first[name] = time.perf_counter() - start
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)
    return {name: (first[name], statistics.median(wall[name]), statistics.median(cpu[name]), labels[name])
            for name in fns}


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
    parser.add_argument("--hashes", default="", help="also train the recipe with these embed.num_hashes, e.g. 2,1")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=4096, help="texts per onnxruntime call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from zoo_core import load as load_model
    from zoo_core.overrides import compose
    from zoo_tools.export import export
    from zoo_core.train.loop import Trainer
    from zoo_plugins.datasets.langid import load

    splits = load(seed=args.seed, words_per_language=args.words)
    texts, gold = splits.test.texts, splits.test.labels
    deploy = deploy_example()
    fns = {}
    with tempfile.TemporaryDirectory() as tmp:
        variants = [("", args.model)] + [(f"embed.num_hashes={h}", None) for h in args.hashes.split(",") if h]
        for i, (override, given) in enumerate(variants):
            folder = Path(tmp) / f"zoo{i}"
            if given is None:
                run = compose([f"data.options.words_per_language={args.words}", f"train.epochs={args.epochs}",
                               "threads=1", f"seed={args.seed}", *([override] if override else [])])
                Trainer(run, folder, progress=False).fit(splits=splits)
            model = load_model(given or folder)
            onnx_path, _ = export(model, "onnx", Path(tmp) / f"model{i}.onnx")
            session, meta = deploy["load"](onnx_path)
            tag = f" ({override})" if override else ""
            fns[f"zoo model.predict{tag}"] = lambda model=model: [row["label"] for row in model.predict(texts)]
            fns[f"ONNX {meta['graph']} graph + numpy featurize.py{tag}"] = \
                lambda session=session, meta=meta: [label for label, _ in deploy["predict"](
                    session, meta, texts, batch_size=args.batch_size)]
        try:
            ft = train_fasttext(splits)
            # model.predict() breaks on numpy 2: call the binding directly, one text at a time
            fns = {"fastText predict (per text)":
                   lambda: [ft.f.predict(t.lower(), 1, 0.0, "strict")[0][1][9:] for t in texts], **fns}
        except ImportError as e:
            print(f"skipped fastText: {e} (pip install -e '.[bench]')", file=sys.stderr)
        measured = interleaved(fns, args.repeats)
    results = []
    for name, (first, median, median_cpu, labels) in measured.items():
        acc = sum(p == g for p, g in zip(labels, gold)) / len(gold)
        results.append((name, len(texts) / median_cpu, len(texts) / median, len(texts) / first, acc))
        print(f"  {name}: {len(texts) / median_cpu:,.0f} texts/CPU-s, {len(texts) / median:,.0f} texts/s",
              file=sys.stderr)
    base_cpu, base = results[0][1], results[0][2]
    ref = results[0][0].split(" ")[0]
    lines = [f"Inference throughput on the {len(texts):,} test words of word-level language ID (wordfreq top "
             f"{args.words} x 42 languages), 1 thread, median of {args.repeats} interleaved rounds (each runs every "
             f"method once) after a first pass; zoo: default recipe, "
             f"{'loaded from ' + str(args.model) if args.model else f'{args.epochs} epoch(s)'}; onnxruntime: "
             f"{args.batch_size} texts a call. Texts per CPU-second (process time; every method runs in one "
             f"process on one thread) is the primary figure: wall-clock rates move with other people's jobs.",
             f"Machine: {machine_line()}.", "",
             f"| method | texts/CPU-s | / {ref} | texts/s (wall) | / {ref} | first (cold) pass texts/s | "
             f"test accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rate_cpu, rate, cold, acc in results:
        lines.append(f"| {name} | {rate_cpu:,.0f} | {rate_cpu / base_cpu:.2f} | {rate:,.0f} | {rate / base:.2f} | "
                     f"{cold:,.0f} | {acc:.4f} |")
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
