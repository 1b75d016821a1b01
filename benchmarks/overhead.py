"""Framework overhead: steps/s of zoo's Trainer against a hand-written minimal PyTorch loop
training the same model (same components, seed, optimizer, LR schedule, clipping) on the
same batches (the Trainer's own epoch-0 batches), in the same run. zoo should stay within
10% of the minimal loop.

    .venv/bin/python benchmarks/overhead.py [--steps 300] [--repeats 3] [--out docs/benchmarks/overhead.md] [zoo overrides...]
    .venv/bin/python benchmarks/overhead.py --parts --steps 60 --repeats 5   # CPU ms a step of the Trainer's pieces

Each measurement runs in a fresh subprocess (the loops alternate, ``--repeats`` times each,
the order rotating so that each loop runs first, second and third in turn; the table shows
medians), so each one's peak memory is its own: ``ru_maxrss`` of that
process (resource.getrusage), i.e. the peak resident set including the interpreter, torch,
the data set and the model. The minimal loop's batches are encoded before it starts; the
Trainer encodes each batch in its loop (gathers each text's slice of the featurised arrays),
as it does in every real run, so that cost is part of zoo's overhead. The batch's distinct
table rows are found by the model's forward (the sparse bag step, ``zoo_core.bag.group_rows``),
in both loops alike. Steps/s is measured
between the end of step ``--warmup`` and the end of step ``--steps``: data loading, model
building, validation and the final checkpoint are outside the window.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import machine_line, publish  # noqa: E402


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _setup(args):
    import torch

    sys.path.insert(0, str(HERE.parent))
    from zoo_core.overrides import compose
    from zoo_plugins.datasets.langid import load

    torch.set_num_threads(args.threads)
    splits = load(seed=args.seed, words_per_language=args.words)
    run = compose(["recipe=default", f"data.options.words_per_language={args.words}", f"threads={args.threads}",
                   f"seed={args.seed}", *args.overrides])
    args.steps = min(args.steps, epoch_steps(run, splits))  # every caller (workers, header, --parts) sees the cap
    return run, splits


def epoch_steps(run, splits) -> int:
    """Optimizer steps in epoch 0: the window ends there, so no validation falls inside it."""
    return -(-len(splits.train.texts) // run.train.batch_size)


def now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


class StepClock:
    """Trainer callback: (wall, CPU) time at the end of each optimizer step; with ``warm``,
    fills the embedder's code cache with every training token before the first step."""

    def __init__(self, warm: bool):
        self.warm, self.times = warm, []

    def on_train_start(self, trainer):
        if self.warm and getattr(trainer.model.embed, "_cache", None) is not None:  # blake2b codes are cached
            for start in range(0, len(trainer.train_tokens), 4096):
                trainer.model.encode(trainer.train_tokens[start:start + 4096])

    def on_step_end(self, trainer, step, loss):
        self.times.append(now())


def rates(times: list[tuple[float, float]], warmup: int) -> dict:
    steps = len(times) - warmup
    return {"steps_per_s": steps / (times[-1][0] - times[warmup - 1][0]),
            "steps_per_cpu_s": steps / (times[-1][1] - times[warmup - 1][1]), "steps": len(times)}


def worker_zoo(args, warm: bool) -> dict:
    from zoo_core.train.loop import Trainer

    run, splits = _setup(args)
    clock = StepClock(warm)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(run, Path(tmp) / "m", progress=False, max_steps=args.steps, callbacks=[clock])
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(trainer.fit, splits=splits)
            pstats.Stats(prof, stream=sys.stderr).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("NSTATS", "40")))
        else:
            trainer.fit(splits=splits)
    return {**rates(clock.times, args.warmup), "maxrss_mib": _maxrss_mib()}


def worker_minimal(args) -> dict:
    import torch

    from zoo_core.batches import featurize_texts
    from zoo_core.model import build_model, build_optimizer
    from zoo_core.train.gradients import clip_gradients
    from zoo_core.train.loop import lr_factor
    from zoo_plugins.tasks.classification import epoch_batches

    run, splits = _setup(args)
    labels = sorted(set(splits.train.labels))
    index = {label: i for i, label in enumerate(labels)}
    y = [index[label] for label in splits.train.labels]
    run.model.num_classes = len(labels)
    model = build_model(run, labels=labels, seed=run.seed)
    features = featurize_texts(model, splits.train.texts)  # the inputs the Trainer uses (fast path or tokens)
    t = run.train
    batches = epoch_batches(features.lengths.tolist(), t.batch_size, run.seed, 0)[: args.steps]
    data = [(features.encode(idx), torch.tensor([y[i] for i in idx])) for idx in batches]
    opt = build_optimizer(model, run.model.optim, lr=t.lr)
    total = -(-len(features) // t.batch_size) * t.epochs  # the Trainer's schedule length
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, t.warmup, t.schedule))
    model.train()
    times = []
    for inputs, target in data:  # the whole loop: forward, loss, backward, clip, step
        loss = model.loss(model(inputs), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model, t.clip)  # = clip_grad_norm_, which cannot take sparse gradients
        opt.step()
        sched.step()
        times.append(now())
    return {**rates(times, args.warmup), "maxrss_mib": _maxrss_mib()}


def step_parts(args) -> None:
    """CPU ms a step of the pieces, in one process on one prepared Trainer and the same batches,
    interleaved (``--parts``): the hand loop's body, the Trainer's step on batches encoded
    beforehand, encoding inline, on the prefetch thread, and encoding alone."""
    import torch

    from zoo_core.train.gradients import clip_gradients
    from zoo_core.train.loop import Trainer
    from zoo_core.train.prefetch import Prefetcher

    run, splits = _setup(args)
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(run, Path(tmp) / "m", progress=False)
        tr.prepare(splits)
    batches, n = tr.task.batches(tr.training_set, 0), args.steps
    model, opt, sched = tr.model, tr.optimizer, tr.scheduler
    model.train()
    pre = [(tr.train_features.encode(b), torch.tensor([tr.train_y[i] for i in b])) for b in batches[:n]]

    def hand():
        for inputs, target in pre:
            loss = model.loss(model(inputs), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(model, run.train.clip)
            opt.step()
            sched.step()

    def prefetched():
        fetch = Prefetcher(lambda b: tr._encode_batch(batches[b]), 0, n, threaded=True)
        for b in range(n):
            tr._train_step(*fetch.get(b))
        fetch.close()

    fns = {"hand-written loop, batches encoded beforehand": hand,
           "Trainer step, batches encoded beforehand": lambda: [tr._train_step(batches[b], 1.0, pre[b][0])
                                                                for b in range(n)],
           "Trainer step, encoding inline (what it runs for featurised ids)":
               lambda: [tr._train_step(*tr._encode_batch(batches[b])) for b in range(n)],
           "Trainer step, encoding on the prefetch thread": prefetched,
           "encoding alone": lambda: [tr._encode_batch(batches[b]) for b in range(n)]}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(args.repeats):
        for name, fn in fns.items():
            start = time.process_time()
            fn()
            times[name].append((time.process_time() - start) / n * 1e3)
    lines = [f"CPU ms a step, {n} steps of epoch 0, median of {args.repeats} interleaved rounds; "
             f"{machine_line()}", "", "| | CPU ms a step |", "|---|---:|"]
    lines += [f"| {name} | {statistics.median(t):.2f} |" for name, t in times.items()]
    publish("\n".join(lines), args.out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per measurement (at most epoch 0's; "
                                                                "the default recipe's epoch is 193)")
    parser.add_argument("--warmup", type=int, default=30, help="steps before the timing window opens")
    parser.add_argument("--repeats", type=int, default=3, help="measurements of each loop (alternating)")
    parser.add_argument("--words", type=int, default=2000, help="top words per language of the langid data")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--worker", choices=list(LOOPS), help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="cProfile one zoo run (warm codes) to stderr")
    parser.add_argument("--parts", action="store_true", help="instead: CPU ms a step of the Trainer's pieces "
                                                             "(--steps of them, --repeats rounds)")
    parser.add_argument("overrides", nargs="*", help="zoo overrides on top of the default recipe")
    args = parser.parse_args(argv)
    if args.parts:
        step_parts(args)
        return
    if args.profile:
        print(json.dumps(worker_zoo(args, warm=True)))
        return
    if args.worker:
        print(json.dumps(LOOPS[args.worker][1](args)))
        return

    common = [f"--steps={args.steps}", f"--warmup={args.warmup}", f"--words={args.words}",
              f"--threads={args.threads}", f"--seed={args.seed}", *args.overrides]
    runs: dict[str, list[dict]] = {name: [] for name in LOOPS}
    for r in range(args.repeats):
        names = list(LOOPS)
        for name in names[r % len(names):] + names[:r % len(names)]:  # each loop takes each place in turn
            proc = subprocess.run([sys.executable, __file__, f"--worker={name}", *common], capture_output=True,
                                  text=True)
            if proc.returncode:
                sys.exit(f"{name} worker failed:\n{proc.stderr[-3000:]}")
            runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            x = runs[name][-1]
            print(f"  run {r + 1}/{args.repeats} {name}: {x['steps_per_cpu_s']:.1f} steps/CPU-s, "
                  f"{x['steps_per_s']:.1f} steps/s, peak RSS {x['maxrss_mib']:.0f} MiB", file=sys.stderr)

    def med(name, key):
        return statistics.median(x[key] for x in runs[name])

    base = {key: med("minimal", key) for key in ("steps_per_cpu_s", "steps_per_s", "maxrss_mib")}
    run, _ = _setup(args)
    m = run.model
    parts = " -> ".join([m.embed.name, *[x.name for x in m.mixer], m.pool.name])
    lines = [f"Framework overhead: recipe {run.recipe} ({parts}, dim {m.dim}, batch {run.train.batch_size}, "
             f"{m.optim.name}, clipping, warm-up + {run.train.schedule}) on word-level language ID (wordfreq top {args.words} x 42 languages), "
             f"steps {args.warmup + 1}-{args.steps} of epoch 0, {args.threads} thread(s), median of {args.repeats} "
             f"alternating subprocess runs each (order rotated). Steps per CPU-second (process time) is the primary figure: the "
             f"machine is shared, and wall-clock rates move with other people's jobs.",
             f"Machine: {machine_line()}.",
             f"Overrides: `{' '.join(args.overrides) or '(none)'}`", "",
             "| loop | steps/CPU-s | / minimal | steps/s (wall) | / minimal | peak RSS MiB (ru_maxrss) | / minimal |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, (label, _) in LOOPS.items():
        c, w, m = med(name, "steps_per_cpu_s"), med(name, "steps_per_s"), med(name, "maxrss_mib")
        lines.append(f"| {label} | {c:.1f} | {c / base['steps_per_cpu_s']:.3f} | {w:.1f} | "
                     f"{w / base['steps_per_s']:.3f} | {m:.0f} | {m / base['maxrss_mib']:.3f} |")
    lines.append("")
    for name in ("zoo_warm", "zoo_cold"):
        ratio = med(name, "steps_per_cpu_s") / base["steps_per_cpu_s"]
        lines.append(f"- {LOOPS[name][0]}: {ratio:.1%} of the minimal loop's steps per CPU-second "
                     f"({'within' if ratio >= 0.9 else 'NOT within'} the 10% budget).")
    lines.append("- All runs (steps/CPU-s): " + "; ".join(
        f"{n} " + ", ".join(f"{x['steps_per_cpu_s']:.1f}" for x in runs[n]) for n in runs) + ".")
    publish("\n".join(lines), args.out)


LOOPS = {
    "minimal": ("hand-written PyTorch loop, batches encoded beforehand", worker_minimal),
    "zoo_warm": ("zoo Trainer.fit, warm (blake2b codes cached beforehand; fnv1a64 has no cache)",
                 lambda args: worker_zoo(args, warm=True)),
    "zoo_cold": ("zoo Trainer.fit, cold (codes computed as tokens first appear)",
                 lambda args: worker_zoo(args, warm=False)),
}


if __name__ == "__main__":
    main()
