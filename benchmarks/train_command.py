"""The whole ``zoo train`` command (a fresh process: imports, reading the file, featurising,
training, validation, the checkpoint and test scoring) on a word-level language-ID file,
against fastText's supervised training on the same file, 1 thread each, in the same run; and,
with ``--rss-mb``, the peak memory of ``zoo train`` on a large generated file.

    .venv/bin/python benchmarks/train_command.py [--words 5500] [--out docs/benchmarks/train_command.md]
    .venv/bin/python benchmarks/train_command.py --rss-mb 50 --rss-steps 200

The file holds every word of the wordfreq split (train + valid + test) as ``text<TAB>label``;
zoo carves its own validation split out of it (train.valid_fraction), fastText trains on all
of it. The memory check writes ``--rss-mb`` MB of lines of 8 words of one language each,
runs ``zoo train`` on it for ``--rss-steps`` steps (everything is read and featurised first)
and reports the process's peak RSS (ru_maxrss of the child).
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import load_average, machine_line, publish  # noqa: E402

ZOO = [sys.executable, "-m", "zoo_cli", "train"]


def write_words(path: Path, words: int) -> int:
    sys.path.insert(0, str(HERE.parent))
    from zoo_plugins.datasets.langid import load

    s = load(seed=0, words_per_language=words)
    rows = [(t, l) for part in (s.train, s.valid, s.test) for t, l in zip(part.texts, part.labels)]
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows), encoding="utf-8")
    return len(rows)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_zoo(path: Path, out: Path, *overrides: str, pythonpath: str | None = None) -> tuple[float, int, float]:
    """(wall seconds, bytes of the run folder, CPU seconds of the process)."""
    env = {**os.environ, "COLUMNS": "200", **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    start, cpu = time.perf_counter(), _children_cpu()
    r = subprocess.run([*ZOO, f"data={path}", "threads=1", *overrides, "--out", str(out)], capture_output=True,
                       text=True, env=env, cwd=pythonpath or None)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if r.returncode:
        sys.exit(f"zoo train failed:\n{r.stderr[-3000:]}")
    return seconds, sum(f.stat().st_size for f in out.rglob("*") if f.is_file() and not f.is_symlink()), cpu


def time_fasttext(path: Path, tmp: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of fastText's training (in this process, one thread)."""
    import fasttext

    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    ft = tmp / "ft.txt"
    ft.write_text("".join(f"__label__{l} {t.lower()}\n" for t, l in (x.split("\t") for x in lines)), encoding="utf-8")
    start, cpu = time.perf_counter(), time.process_time()
    fasttext.train_supervised(str(ft), minn=1, maxn=4, dim=64, epoch=25, lr=0.5, wordNgrams=1, thread=1, verbose=0,
                              seed=0)
    return time.perf_counter() - start, time.process_time() - cpu


def write_sentences(path: Path, megabytes: float, words: int = 2000) -> int:
    sys.path.insert(0, str(HERE.parent))
    from zoo_plugins.datasets.langid import load

    s = load(seed=0, words_per_language=words)
    by_lang: dict[str, list[str]] = {}
    for t, l in zip(s.train.texts, s.train.labels):
        by_lang.setdefault(l, []).append(t)
    langs, rng, n, size = sorted(by_lang), random.Random(0), 0, 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("text\tlabel\n")
        while size < megabytes * 1e6:
            lang = langs[n % len(langs)]
            line = f"{' '.join(rng.choices(by_lang[lang], k=8))}\t{lang}\n"
            f.write(line)
            size += len(line.encode())
            n += 1
    return n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=5500, help="top words per language in the file")
    parser.add_argument("--rss-mb", type=float, help="instead: peak RSS of zoo train on a file of this size")
    parser.add_argument("--rss-steps", type=int, default=200)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--baseline", help="also time zoo from this PYTHONPATH (e.g. an older checkout laid out "
                                           "as zoo_core/, zoo_plugins/, zoo_tools/, zoo_cli/), in the same run")
    parser.add_argument("overrides", nargs="*", help="zoo overrides")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.rss_mb:
            path = tmp / "big.tsv"
            n = write_sentences(path, args.rss_mb)
            seconds, _, _ = time_zoo(path, tmp / "run", f"train.max_steps={args.rss_steps}", *args.overrides)
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            publish(f"`zoo train` on a {path.stat().st_size / 1e6:.1f} MB file ({n:,} lines of 8 words), "
                    f"{args.rss_steps} steps: peak RSS {rss:,.0f} MiB, {seconds:.0f} s. Load average "
                    f"{load_average()}. Machine: {machine_line()}.", args.out)
            return
        path = tmp / "words.tsv"
        n = write_words(path, args.words)
        ft, ft_cpu = time_fasttext(path, tmp)
        zoo, size, zoo_cpu = time_zoo(path, tmp / "run", *args.overrides)
        base = time_zoo(path, tmp / "base", *args.overrides, pythonpath=args.baseline) if args.baseline else None
        lines = [f"Whole `zoo train data=FILE threads=1` (a fresh process) vs fastText's training, 1 thread, on "
                 f"a {n:,}-word file (wordfreq top {args.words} x 42 languages). Load average {load_average()}. "
                 f"CPU seconds (user + system of the process; fastText's in-process training) move less with "
                 f"other people's jobs than wall-clock seconds.",
                 f"Machine: {machine_line()}. Overrides: `{' '.join(args.overrides) or '(none)'}`", "",
                 "| | CPU seconds | / fastText | wall seconds | / fastText |", "|---|---:|---:|---:|---:|",
                 f"| fastText train_supervised (char 1-4-grams, 25 epochs) | {ft_cpu:.1f} | 1.00 | {ft:.1f} | 1.00 |",
                 f"| zoo train (whole command) | {zoo_cpu:.1f} | {zoo_cpu / ft_cpu:.2f} | {zoo:.1f} | {zoo / ft:.2f} |",
                 *([f"| zoo train, baseline code ({args.baseline}) | {base[2]:.1f} | {base[2] / ft_cpu:.2f} | "
                    f"{base[0]:.1f} | {base[0] / ft:.2f} |"] if base else []),
                 "", f"The run folder zoo leaves: {size / 1e6:.1f} MB."]
        publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
