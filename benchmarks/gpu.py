"""Training and inference on a GPU (issue 16): tokens/s of the default recipe and of
``recipe=lambda_seed``, ``model.predict`` texts/s, each beside this GPU's peak measured in the same
run: device-to-device copy bandwidth for the bag model (a memory-bound gather/scatter of table rows)
and fp32 matrix-product FLOP/s for the mixer network (its step's FLOPs counted by
``torch.utils.flop_counter``, forward and backward, as torch dispatches them).

    python benchmarks/gpu.py --data words.tsv [--lambda-epochs 2] [--out docs/benchmarks/gpu.md]

``--data`` is a ``text<TAB>label`` file (benchmarks/train_command.py writes the 166,660-word one
with ``write_words``); zoo carves its validation split out of it. Each run is the Trainer of
``zoo train data=FILE device=cuda`` with plots off. Rates are taken between the end of step 20 and
the last step, leaving out the steps that follow an epoch's validation; tokens/s is the mean tokens
a step times steps/s. The bag model's bytes a step are an estimate, stated in the table: each
distinct table row a batch uses is read by the forward pass, its gradient written, and the
optimizer reads and writes it (5 row transfers of dim x 4 bytes), the per-token reads of the
gathered rows and the small head left out.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _timing import machine_line, publish  # noqa: E402

WARMUP = 20


def sync(torch, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peaks(torch, device: str) -> dict:
    """Measured device-to-device copy bandwidth (bytes read + written per second) and fp32
    matrix-product FLOP/s (torch's default precision settings, the ones the models run with)."""
    x = torch.empty(1 << 28 if device.startswith("cuda") else 1 << 24, device=device)
    y = torch.empty_like(x)

    def timed(fn, n=10) -> float:
        for _ in range(3):
            fn()
        sync(torch, device)
        start = time.perf_counter()
        for _ in range(n):
            fn()
        sync(torch, device)
        return (time.perf_counter() - start) / n

    copy = 2 * x.numel() * 4 / timed(lambda: y.copy_(x))
    del x, y
    n = 8192 if device.startswith("cuda") else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    matmul = 2 * n ** 3 / timed(lambda: a @ b)
    return {"copy_bytes_per_s": copy, "fp32_flops": matmul}


class Clock:
    """Trainer callback: the time of each step's end, and which steps follow a validation."""

    def __init__(self):
        self.times, self.after_epoch, self._epoch_ended = [], set(), False

    def on_step_end(self, trainer, step, loss):
        if self._epoch_ended:
            self.after_epoch.add(len(self.times))
            self._epoch_ended = False
        self.times.append(time.perf_counter())

    def on_epoch_end(self, trainer, row):
        self._epoch_ended = True

    def steps_per_s(self) -> float:
        gaps = [b - a for i, (a, b) in enumerate(zip(self.times, self.times[1:]), start=1)
                if i > WARMUP and i not in self.after_epoch]
        return len(gaps) / sum(gaps)


def train(torch, data: str, overrides: list[str], out: Path, device: str) -> tuple:
    from zoo_core.overrides import compose
    from zoo_core.train.loop import Trainer

    run = compose([f"data={data}", f"device={device}", "train.plots=false", *overrides])
    clock = Clock()
    trainer = Trainer(run, out, progress=False, callbacks=[clock])
    result = trainer.fit()
    batches = trainer.task.batches(trainer.training_set, 0)
    tokens_per_step = float(trainer.train_features.lengths.sum()) / len(batches)
    return trainer, result, clock.steps_per_s(), tokens_per_step, batches


def bag_bytes_per_step(trainer, batches) -> float:
    import torch

    rows = [len(torch.unique(trainer._encode_batch(b)[2]["bag_bits"])) for b in batches[:50]]  # distinct rows
    return 5 * statistics.mean(rows) * trainer.model.embed.dim * 4


def flops_per_step(torch, trainer, batches) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    trainer.model.train()
    encoded = trainer._encode_batch(batches[0])
    with FlopCounterMode(display=False) as counter:
        trainer._train_step(*encoded)
    return float(counter.get_total_flops())


def predict_rate(torch, model, texts: list[str], device: str) -> float:
    model.predict(texts[:4096])
    sync(torch, device)
    start = time.perf_counter()
    for _ in range(3):
        model.predict(texts)
    sync(torch, device)
    return 3 * len(texts) / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a text<TAB>label file")
    parser.add_argument("--lambda-epochs", type=int, default=2)
    parser.add_argument("--device", default="cuda", help="cuda (the point), or cpu to try the script itself")
    parser.add_argument("--out", type=Path)
    parser.add_argument("overrides", nargs="*", help="zoo overrides for both runs (e.g. train.epochs=1 to try it)")
    args = parser.parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    dev = args.device
    peak = peaks(torch, dev)
    from zoo_core.data import read_file

    texts = read_file(args.data).texts
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        trainer, result, rate, per_step, batches = train(torch, args.data, args.overrides, Path(tmp) / "bag", dev)
        bytes_step = bag_bytes_per_step(trainer, batches)
        infer = predict_rate(torch, trainer.model, texts, dev)
        rows.append(("default recipe (bag: hashed char n-grams, mean, linear)", rate, per_step, result,
                     f"~{bytes_step * rate / 1e9:.1f} GB/s of table rows (estimate) = "
                     f"{100 * bytes_step * rate / peak['copy_bytes_per_s']:.2f}% of copy bandwidth", infer))
        trainer, result, rate, per_step, batches = train(
            torch, args.data, ["recipe=lambda_seed", f"train.epochs={args.lambda_epochs}", *args.overrides],
            Path(tmp) / "lambda", dev)
        flops = flops_per_step(torch, trainer, batches)
        infer = predict_rate(torch, trainer.model, texts, dev)
        rows.append(("recipe=lambda_seed (hash, lambda layer, seed attention)", rate, per_step, result,
                     f"{flops * rate / 1e12:.2f} TFLOP/s counted = {100 * flops * rate / peak['fp32_flops']:.2f}% "
                     f"of fp32 matrix-product peak", infer))
    name = torch.cuda.get_device_name(0) if dev.startswith("cuda") else "none (--device cpu)"
    lines = [f"GPU: {name}, torch {torch.__version__}; host: {machine_line()}. Overrides: "
             f"`{' '.join(args.overrides) or '(none)'}`.",
             f"Measured peaks: device-to-device copy {peak['copy_bytes_per_s'] / 1e12:.2f} TB/s (read + write), "
             f"fp32 square matrix product {peak['fp32_flops'] / 1e12:.2f} TFLOP/s.",
             f"Data: {args.data} ({len(texts):,} texts).", "",
             "| model | train steps/s | tokens/s (training) | best validation accuracy | share of the measured peak (training) | "
             "model.predict texts/s |", "|---|---:|---:|---:|---|---:|"]
    for name, rate, per_step, result, share, infer in rows:
        lines.append(f"| {name} | {rate:,.0f} | {rate * per_step:,.0f} | {(result.best or {}).get('accuracy', float('nan')):.4f} "
                     f"| {share} | {infer:,.0f} |")
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
