"""Throughput of every registered embedder on a Zipfian stream of real words.

    .venv/bin/python benchmarks/embedders.py [--tokens 200000] [--threads 2] [--out docs/benchmarks/embedders.md]

The stream: words drawn from wordfreq's 20,000 most frequent English words with
probability proportional to their real frequency (a Zipfian distribution), cut into
batches of 64 sequences of 1-32 tokens. For each embedder (dim=64, default options):

- encode, cold: a fresh embedder numericalises the stream once (empty per-token caches);
- encode, warm: the same embedder encodes the stream again (every token cached);
- forward: the encoded batches through ``forward`` under ``torch.no_grad()``;
- forward+backward: ``forward(...).sum().backward()`` (what a training step pays).

Each figure is the best of ``--repeats`` runs (other processes on a small machine only ever
make a run slower).

Tokens per second count real (unpadded) tokens. ``full`` is fitted on the stream first
and is the reference of the "x full" columns, measured in the same run. The table is
printed and written (with the machine, torch version and date) to ``--out``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

import zoo_core

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine_line  # noqa: E402

EMBEDDERS = ("hash", "char_cnn", "char_pos", "full")
BATCH = 64
MAX_LEN = 32


def zipf_stream(n_tokens: int, seed: int = 0) -> list[list[list[str]]]:
    """Batches of token lists with words drawn by their English frequency."""
    from wordfreq import top_n_list, word_frequency

    words = top_n_list("en", 20000)
    p = np.array([word_frequency(w, "en") for w in words], dtype=np.float64)
    p /= p.sum()
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(words), size=n_tokens, p=p)
    lengths = rng.integers(1, MAX_LEN + 1, size=n_tokens)
    seqs, i = [], 0
    for n in lengths:
        if i >= n_tokens:
            break
        seqs.append([words[j] for j in drawn[i: i + n]])
        i += n
    return [seqs[k: k + BATCH] for k in range(0, len(seqs), BATCH)]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(name: str, batches, n_tokens: int, repeats: int) -> dict[str, float]:
    """Tokens/s of each phase, the best of ``repeats`` runs (a fresh embedder for each cold run)."""
    best = {"cold": 0.0, "warm": 0.0, "fwd": 0.0, "bwd": 0.0}
    for _ in range(repeats):
        torch.manual_seed(0)
        emb = zoo_core.create("embed", name, dim=64)
        if name == "full":
            emb.fit(seq for batch in batches for seq in batch)
        encoded: list = []
        cold = timed(lambda: encoded.extend(emb.encode(b) for b in batches))
        warm = timed(lambda: [emb.encode(b) for b in batches])

        def forward():
            with torch.no_grad():
                for inputs in encoded:
                    emb(inputs)

        def train():
            for inputs in encoded:
                emb(inputs).sum().backward()

        forward()  # warm-up: first calls allocate
        fwd, bwd = timed(forward), timed(train)
        for key, seconds in (("cold", cold), ("warm", warm), ("fwd", fwd), ("bwd", bwd)):
            best[key] = max(best[key], n_tokens / seconds)
    best["params"] = sum(p.numel() for p in emb.parameters())
    return best


def table(rows: dict[str, dict[str, float]]) -> str:
    ref = rows.get("full")
    head = ("| embedder | params | encode cold tok/s | encode warm tok/s | warm/cold | forward tok/s | "
            "fwd+bwd tok/s | encode x full | forward x full | fwd+bwd x full |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, r in rows.items():
        ratio = (lambda k: f"{r[k] / ref[k]:.2f}") if ref else (lambda k: "-")
        lines.append(f"| {name} | {r['params']:,} | {r['cold']:,.0f} | {r['warm']:,.0f} | "
                     f"{r['warm'] / r['cold']:.1f} | {r['fwd']:,.0f} | {r['bwd']:,.0f} | "
                     f"{ratio('warm')} | {ratio('fwd')} | {ratio('bwd')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200_000, help="tokens in the stream")
    parser.add_argument("--threads", default="2", help="torch intra-op threads; a list such as 2,1 gives a "
                                                       "table for each")
    parser.add_argument("--repeats", type=int, default=3, help="runs per embedder; the best is reported")
    parser.add_argument("--out", default="docs/benchmarks/embedders.md", help="markdown file ('' to skip)")
    args = parser.parse_args()

    batches = zipf_stream(args.tokens)
    n_tokens = sum(len(s) for b in batches for s in b)
    distinct = len({w for b in batches for s in b for w in s})
    stream = (f"Stream: {n_tokens:,} tokens ({distinct:,} distinct English words, Zipfian by wordfreq "
              f"frequency) in {len(batches)} batches of {BATCH} sequences of 1-{MAX_LEN} tokens; dim=64, "
              f"default options; best of {args.repeats} runs.")
    where = f"Machine: {machine_line()}."
    print(where, stream, sep="\n")
    sections = []
    for threads in [int(t) for t in str(args.threads).split(",")]:
        torch.set_num_threads(threads)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        rows = {name: measure(name, batches, n_tokens, args.repeats) for name in EMBEDDERS}
        title = f"{threads} thread{'s' if threads > 1 else ''} (load average before the table: {load:.2f})"
        sections.append(f"## {title}\n\n{table(rows)}\n")
        print(f"\n{title}\n{table(rows)}")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            "# Embedder throughput\n\n"
            f"Produced by `.venv/bin/python benchmarks/embedders.py --threads {args.threads}` (see its docstring "
            "for the method). tok/s counts real tokens; encode cold = fresh per-token caches, warm = every "
            "token cached; forward runs under no_grad; \"x full\" is the ratio to the `full` vocabulary "
            "embedder measured in the same run (higher is faster).\n\n"
            f"{where}\n\n{stream}\n\n" + "\n".join(sections), encoding="utf-8")
        print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
