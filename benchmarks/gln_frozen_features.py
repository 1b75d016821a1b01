"""The gated_linear head on frozen features: the pooled vectors of a trained model (e.g. the
default recipe's linear model) for its own train/valid/test splits, and a GLN head fitted on
them online (its local rule, minibatches of 128, a few passes), validation accuracy after each
pass and test accuracy after the last (docs/heads.md; choose on validation).

    zoo train data.options.words_per_language=500 train.epochs=3 head=linear --out runs/lin
    python benchmarks/gln_frozen_features.py runs/lin '{"epochs": 3}'
    python benchmarks/gln_frozen_features.py runs/lin '{"epochs": 3, "context_bits": 8, "input_scale": 2}'

The JSON holds the head's fields (layers, context_bits, lr, input_scale, ...), ``epochs``,
``standardize`` (true: each feature standardised with the training mean and std) and ``decay``
(the step min(lr, decay / (1 + n / 1000)) after n training examples).
"""
import json
import sys
import time

import torch

from zoo_core.batches import featurize_texts
from zoo_core.data import load_splits
from zoo_core.inference import pooled_vectors
from zoo_core.model import ZooModel
from zoo_plugins.heads.gated_linear import GatedLinearHead

torch.set_num_threads(1)
model = ZooModel.from_pretrained(sys.argv[1])
cfg = json.loads(sys.argv[2])
epochs, standardize, decay = cfg.pop("epochs", 1), cfg.pop("standardize", False), cfg.pop("decay", None)
splits = load_splits(model.run.data, seed=model.run.seed)
index = {label: i for i, label in enumerate(model.labels)}
data = {}
for name in ("train", "valid", "test"):
    part = getattr(splits, name)
    data[name] = (pooled_vectors(model, featurize_texts(model, part.texts)),
                  torch.tensor([index[label] for label in part.labels]))
(zt, yt), (zv, yv), (zs, ys) = data["train"], data["valid"], data["test"]
if standardize:
    mean, std = zt.mean(0), zt.std(0).clamp_min(1e-6)
    zt, zv, zs = ((z - mean) / std for z in (zt, zv, zs))
head = GatedLinearHead(in_dim=zt.shape[1], num_classes=len(model.labels), probe=False, **cfg)
gen, t0, valid, seen, lr = torch.Generator().manual_seed(0), time.time(), [], 0, head.lr
with torch.no_grad():
    for _ in range(epochs):
        order = torch.randperm(len(yt), generator=gen)
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]
            if decay:
                head.lr = min(lr, decay / (1 + seen / 1000))
            head.update(zt[batch], yt[batch])
            seen += len(batch)
        valid.append(round((head(zv).argmax(-1) == yv).float().mean().item(), 3))
    test = (head(zs).argmax(-1) == ys).float().mean().item()
print(sys.argv[2], "valid by pass", valid, f"test {test:.3f}", f"{time.time() - t0:.0f}s")
