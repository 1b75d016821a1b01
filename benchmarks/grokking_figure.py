"""docs/grokking.png: train and validation accuracy against the step (log scale) of two
``zoo train recipe=grokking`` runs, with weight decay and without (their metrics.jsonl).

    zoo train recipe=grokking --out runs/grok
    zoo train recipe=grokking optim.weight_decay=0 --out runs/nowd
    python benchmarks/grokking_figure.py runs/grok runs/nowd docs/grokking.png
"""
import json
import sys
from pathlib import Path

from zoo_core.plots import pyplot

plt = pyplot()
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, folder, title in zip(axes, sys.argv[1:3], ("weight decay 1.0", "no weight decay (the control)")):
    rows = [json.loads(line) for line in (Path(folder) / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["train_accuracy"] for r in rows], color="#d62728", lw=1, label="train")
    ax.plot(steps, [r["valid_accuracy"] for r in rows], color="#2ca02c", lw=1.2, label="validation")
    ax.set_xscale("log")
    ax.set_xlabel("optimisation step (full batch), log scale")
    ax.set_title(f"{title}: {steps[-1]:,} steps in {rows[-1]['seconds'] / 60:.0f} min")
    ax.grid(True, alpha=0.3)
axes[0].set_ylabel("accuracy")
axes[0].legend(loc="center left")
fig.suptitle("zoo train recipe=grokking: a + b mod 47, 40% of the table for training")
fig.tight_layout()
fig.savefig(sys.argv[3], dpi=100)
