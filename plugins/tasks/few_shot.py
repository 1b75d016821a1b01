"""Few-shot classification: N-way K-shot episodes (``task=few_shot:ways=5,shots=5,...``).

Post: "Contextual Prototype Memory".
Paper: Snell, Swersky, Zemel, Prototypical Networks for Few-shot Learning (NeurIPS 2017).

Each training batch is an episode of ``ways`` classes with ``shots`` support and ``queries``
query examples each (support first, so the ``prototypical`` loss, whose default splits each
class in half, sees them as such); a share ``novel`` of the classes (every k-th label) is
never trained on and the evaluation samples its episodes from those classes only.
Prototypes are the mean of the support vectors, or query-conditioned centres when the
pooler has ``centres`` (``pool=prototype_attention``). Reports mean episode accuracy with a
95% interval.
"""
from __future__ import annotations

import math
import random

from zoo_core.errors import ZooError
from zoo_core.tasks import Task, TrainingSet, by_label, epoch_rng


class FewShotTask(Task):
    name = "few_shot"
    pipeline_tag = "text-classification"
    primary_metric = "accuracy"
    metrics = ("accuracy", "accuracy_ci95", "macro_f1", "loss")
    needs_labels_known = False

    def __init__(self, ways: int = 5, shots: int = 5, queries: int = 5, episodes: int = 300, novel: float = 0.25):
        if ways < 2 or shots < 1 or queries < 1 or episodes < 1 or not 0 <= novel < 1:
            raise ZooError(f"task={self.name}: need ways >= 2, shots >= 1, queries >= 1, episodes >= 1, "
                           f"0 <= novel < 1 (got ways={ways}, shots={shots}, queries={queries}, "
                           f"episodes={episodes}, novel={novel})")
        self.ways, self.shots, self.queries, self.episodes, self.novel = ways, shots, queries, episodes, novel

    def novel_classes(self, n_labels: int) -> set[int]:
        """Every k-th label (k = round(1/novel)) is held out of training; none when novel=0."""
        if self.novel == 0:
            return set()
        step = max(2, round(1 / self.novel))
        return {i for i in range(n_labels) if i % step == step - 1}

    def batches(self, data: TrainingSet, epoch: int) -> list[list[int]]:
        rng = epoch_rng(data.seed, epoch)
        held_out = self.novel_classes(len(data.classes))
        groups = {y: idx for y, idx in by_label(data.labels).items() if y not in held_out and len(idx) >= 2}
        if len(groups) < 2:
            raise ZooError(f"task={self.name}: fewer than 2 training classes with 2+ examples (after holding out "
                           f"novel={self.novel} of the classes); add data or set task={self.name}:novel=0")
        ways = min(self.ways, len(groups))
        episodes = []
        for _ in range(data.steps):
            support, query = [], []
            for y in rng.sample(sorted(groups), ways):
                picked = rng.sample(groups[y], min(len(groups[y]), self.shots + self.queries))
                k = min(self.shots, len(picked) - 1)
                support += picked[:k]
                query += picked[k:]
            episodes.append(support + query)
        return episodes

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        from zoo_core.inference import pooled_vectors
        from zoo_core.metrics import classification_report

        vectors = pooled_vectors(model, token_lists)
        held_out = self.novel_classes(len(labels))
        pool = {y: idx for y, idx in by_label(label_ids).items() if (not held_out or y in held_out) and len(idx) >= 2}
        ways = min(self.ways, len(pool))
        if ways < 2:
            return {"accuracy": 0.0, "accuracy_ci95": 0.0, "macro_f1": 0.0, "loss": 0.0, "episodes": 0,
                    "note": "fewer than 2 evaluation classes with 2+ examples"}
        rng = random.Random(12345)  # the same episodes for every model
        accs, losses, truth, guess = [], [], [], []
        for _ in range(self.episodes):
            acc, loss, t, g = self._episode(model, vectors, pool, ways, rng)
            accs.append(acc)
            losses.append(loss)
            truth += t
            guess += g
        mean = sum(accs) / len(accs)
        std = math.sqrt(sum((a - mean) ** 2 for a in accs) / max(1, len(accs) - 1))
        report = classification_report(truth, guess, labels)
        return {"accuracy": mean, "accuracy_ci95": 1.96 * std / math.sqrt(len(accs)), "macro_f1": report["macro_f1"],
                "loss": sum(losses) / len(losses), "episodes": len(accs), "ways": ways, "shots": self.shots,
                "classes": "novel" if held_out else "all"}

    def _episode(self, model, vectors, pool, ways, rng):
        """One episode: (accuracy, loss, true labels, guessed labels)."""
        import torch
        from torch.nn import functional as F

        classes = rng.sample(sorted(pool), ways)
        shots = min([self.shots] + [len(pool[y]) - 1 for y in classes])
        sup, qry, qy = [], [], []
        for c, y in enumerate(classes):
            picked = rng.sample(pool[y], min(len(pool[y]), shots + self.queries))
            sup.append(picked[:shots])
            qry += picked[shots:]
            qy += [c] * (len(picked) - shots)
        support, query = vectors[torch.tensor(sup)], vectors[torch.tensor(qry)]  # (N, K, D), (Q, D)
        centres = getattr(model.pool, "centres", None)
        with torch.no_grad():
            protos = centres(query, support) if centres is not None else support.mean(1).expand(len(qry), -1, -1)
        logits = -(query.unsqueeze(1) - protos).pow(2).sum(-1)  # (Q, N)
        target = torch.tensor(qy)
        pred = logits.argmax(-1)
        return (float((pred == target).float().mean()), float(F.cross_entropy(logits, target)),
                [classes[c] for c in qy], [classes[int(p)] for p in pred])
