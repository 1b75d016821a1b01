"""The posts' experiment: the 4-layer network (recipe ``lambda_seed``: hash -> MIXER -> seed
attention -> linear) with each registered mixer swapped in, trained on word-level language
ID with one budget, in one run. Reports validation accuracy, parameters and training time,
and each one's ratio to ``identity`` (no mixing) measured in the same run.

    .venv/bin/python benchmarks/mixers_langid.py [--words 500] [--epochs 3] [--out docs/benchmarks/mixers_langid.md]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import machine as info, publish  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=500, help="top words per language")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="comma-separated mixers (default: all registered)")
    parser.add_argument("--out", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE.parent))
    import torch

    import zoo_core
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer
    from zoo_plugins.datasets.langid import load

    torch.set_num_threads(1)
    splits = load(seed=args.seed, words_per_language=args.words)
    names = args.only.split(",") if args.only else sorted({c.name for c in zoo_core.list_components("mixer:*")})
    names = ["identity"] + [n for n in names if n != "identity"]
    rows = []
    for name in names:
        overrides = ["recipe=lambda_seed", f"mixer={name}", f"data.options.words_per_language={args.words}",
                     f"train.epochs={args.epochs}", "train.plots=false", f"seed={args.seed}"]
        if name in ("mlp_mixer", "gmlp"):
            overrides.append("mixer.max_len=256")  # fixed-length mixers: longer than any word's n-grams
        try:
            run = compose(overrides)
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                result = Trainer(run, Path(tmp) / "m").fit(splits=splits)
                seconds = time.perf_counter() - t
            rows.append((name, result.best.get("accuracy", float("nan")), result.parameters, seconds))
        except Exception as exc:  # one mixer failing must not lose the others' rows
            rows.append((name, float("nan"), 0, float("nan")))
            print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"{name}: {rows[-1]}", file=sys.stderr)
    base_acc, base_sec = rows[0][1], rows[0][3]
    m = info()
    lines = [f"The posts' network (recipe lambda_seed: hash 8192 bits -> MIXER -> seed attention -> linear, dim 64) "
             f"with each mixer swapped in; word-level language ID, wordfreq top {args.words} words x 42 languages "
             f"({len(splits.train):,} train / {len(splits.valid):,} validation words, word-disjoint), {args.epochs} "
             f"epochs, seed {args.seed}, 1 thread.",
             f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['date']} (shared with other jobs: "
             f"compare the time ratios, not the seconds).", "",
             "| mixer | validation accuracy | parameters | train s | accuracy / identity | time / identity |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, acc, params, sec in sorted(rows, key=lambda r: -r[1] if r[1] == r[1] else 1):
        lines.append(f"| {name} | {acc:.4f} | {params:,} | {sec:.1f} | {acc / base_acc:.3f} | {sec / base_sec:.2f} |")
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
