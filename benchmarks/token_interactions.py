"""The posts' experiment ("LambdaNetworks: A Quick Glimpse", "Token Interactions") on the
sentence-level task (issue 20, part 3): one network, three mixers swapped -- kernel attention
(``linear_attention``), the lambda layer (softmax over keys, the paper) and the lambda layer
with an elu+1 kernel instead of the softmax (``mixer.normalize=kernel``) -- on WordNet glosses,
the same seeds, the training loss and validation accuracy after every epoch; and each mixer's
time per call on a random batch of shape (32, 512, 64), as in the post, interleaved in one run.

The network is ``benchmarks/sentences.py``'s NET (recipe lambda_seed on word tokens: hash
embeddings -> MIXER -> seed attention -> linear). Each seed also draws its own split.

    .venv/bin/python benchmarks/token_interactions.py [--seeds 0,1] [--out docs/benchmarks/token_interactions.md]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import load_average, machine  # noqa: E402
from sentences import NET, ROWS, keep_row, run_zoo  # noqa: E402

# the three networks are rows of benchmarks/sentences.py's table (seed 0 fills them)
MIXERS = {
    "kernel attention (linear_attention)": "net-linear_attention-seed",
    "lambda (softmax over keys)": "net-lambda-seed",
    "lambda + kernel (normalize=kernel)": "net-lambdakernel-seed",
}
POST = {"kernel attention (linear_attention)": ("≈1.35", "~283 ms"),
        "lambda (softmax over keys)": ("≈1.72", "~41 ms"),
        "lambda + kernel (normalize=kernel)": ("≈1.42", "—")}


def time_per_call(shape=(32, 512, 64), repeats: int = 7) -> dict[str, dict[str, float]]:
    """Median ms per forward and per forward+backward of each mixer alone, rounds interleaved."""
    import torch

    from zoo_core.factory import create

    torch.set_num_threads(1)
    torch.manual_seed(0)
    b, t, d = shape
    x = torch.randn(b, t, d)
    mask = torch.ones(b, t, dtype=torch.bool)
    mixers = {"kernel attention (linear_attention)": create("mixer", "linear_attention", dim=d),
              "lambda (softmax over keys)": create("mixer", "lambda", dim=d),
              "lambda + kernel (normalize=kernel)": create("mixer", "lambda", dim=d, normalize="kernel")}
    times = {n: {"forward": [], "train": []} for n in mixers}

    def forward(m):
        with torch.no_grad():
            m(x, mask)

    def train(m):
        xg = x.clone().requires_grad_(True)
        m(xg, mask).sum().backward()

    for m in mixers.values():
        forward(m), train(m)  # warm-up
    for _ in range(repeats):
        for name, m in mixers.items():
            for kind, fn in (("forward", forward), ("train", train)):
                start = time.perf_counter()
                fn(m)
                times[name][kind].append(1000 * (time.perf_counter() - start))
    return {n: {k: statistics.median(v) for k, v in kinds.items()} for n, kinds in times.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--table", type=Path, default=HERE.parent / "docs" / "benchmarks" / "sentences.jsonl",
                        help="benchmarks/sentences.py's row cache, where seed 0's runs are kept as its rows")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "benchmarks" / "token_interactions.md")
    parser.add_argument("--table-only", action="store_true", help="rebuild the table from the cache")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    seeds = [int(s) for s in args.seeds.split(",")]  # runs of other seeds already in the cache are kept
    cache = args.out.with_suffix(".json")
    cache.parent.mkdir(parents=True, exist_ok=True)
    if args.table_only:
        data = json.loads(cache.read_text())
    else:
        from zoo_plugins.datasets.wordnet import load

        data = json.loads(cache.read_text()) if cache.exists() else {"curves": {n: {} for n in MIXERS}}
        data["loads"] = []
        for seed in seeds:
            splits = load(seed=seed)
            for name, row_name in MIXERS.items():
                row = run_zoo(ROWS[row_name], splits, seed)
                data["curves"][name][str(seed)] = row["curve"]
                if seed == 0:  # the table's seed: the same run is that table's row
                    keep_row(args.table, row_name, row)
                cache.write_text(json.dumps(data, indent=1))
        data["loads"].append(load_average())
        data["timing"] = time_per_call()
        data["loads"].append(load_average())
        data["epochs"], data["seeds"], data["machine"] = 6, sorted(int(s) for s in data["curves"][name]), machine()
        cache.write_text(json.dumps(data, indent=1))
    text = report(data)
    args.out.write_text(text)
    print(text)


def report(data: dict) -> str:
    m, epochs, seeds = data["machine"], data["epochs"], data["seeds"]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    lines = ["# The posts' experiment on WordNet glosses: kernel attention vs lambda vs lambda + kernel", "",
             f"Network: `{' '.join(NET)}` with the mixer swapped; seeds {', '.join(map(str, seeds))} (each draws its "
             f"own split and initialisation, the same for the three mixers); {epochs} epochs; one thread. Machine: "
             f"{m['cpu']}, {m['cores']} cores shared with other jobs, torch {m['torch']}, {m['date']}; load average "
             f"{' -> '.join(data['loads'])} around the timing.", "",
             "Regenerate: `.venv/bin/python benchmarks/token_interactions.py --seeds "
             f"{','.join(map(str, seeds))}`", "",
             "| mixer | train loss at epoch " + str(epochs) + " (mean of seeds) | per seed | validation accuracy at epoch "
             f"{epochs} | s per epoch | ms forward (32, 512, 64) | ms forward+backward | post: loss at epoch 6 | "
             "post: ms |", "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for name, per_seed in data["curves"].items():
        last = [c[-1] for c in per_seed.values()]
        t = data["timing"][name]
        sec = mean([c[-1]["seconds"] / len(c) for c in per_seed.values()])
        lines.append(f"| {name} | {mean([r['train_loss'] for r in last]):.3f} | "
                     f"{' / '.join(format(r['train_loss'], '.3f') for r in last)} | "
                     f"{mean([r['valid_accuracy'] for r in last]):.4f} | {sec:.1f} | {t['forward']:.1f} | "
                     f"{t['train']:.1f} | {POST[name][0]} | {POST[name][1]} |")
    lines += ["", "Training loss per epoch (mean over seeds):", "",
              "| mixer | " + " | ".join(f"epoch {e}" for e in range(1, epochs + 1)) + " |",
              "|---|" + "---:|" * epochs]
    for name, per_seed in data["curves"].items():
        curves = list(per_seed.values())
        lines.append(f"| {name} | " + " | ".join(
            f"{mean([c[e]['train_loss'] for c in curves]):.3f}" for e in range(epochs)) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
