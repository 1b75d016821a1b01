"""Retrieval: a query retrieves the other examples with its label (``task=retrieval:per_class=4,k=10``).

Post: "Directly Optimize IR Metrics".
Paper: Järvelin & Kekäläinen, Cumulated gain-based evaluation of IR techniques (TOIS 2002, NDCG).

E.g. data=lemmas: a word form retrieves the other forms of its lemma, by cosine of the
pooled vectors. Batches hold ``per_class`` examples of each of batch_size/per_class labels.
Reports NDCG@k (binary gain), MAP, recall@1/5/k and precision@1 under their own names.
"""
from __future__ import annotations

import math

from zoo_core.errors import ZooError
from zoo_core.tasks import Task, TrainingSet, by_label, epoch_rng


def retrieval_metrics(scores, relevant, k: int = 10) -> dict:
    """(Q, N) scores and bool relevance (a query is not its own candidate: mask it out with
    -inf) -> mean NDCG@k (binary gain), MAP, recall@1/5/k, precision@1 over the queries."""
    import torch

    order = scores.argsort(-1, descending=True)
    rel = relevant.gather(1, order).float()  # relevance in ranked order
    n_rel = relevant.sum(-1).float()
    ranks = torch.arange(1, rel.shape[1] + 1, dtype=torch.float32)
    discount = 1.0 / torch.log2(ranks + 1)
    dcg = (rel[:, :k] * discount[:k]).sum(-1)
    ideal = torch.stack([discount[: int(min(n, k))].sum() for n in n_rel.tolist()])
    precision_at = rel.cumsum(-1) / ranks
    ap = (precision_at * rel).sum(-1) / n_rel
    out = {f"ndcg@{k}": float((dcg / ideal).mean()), "map": float(ap.mean()),
           "precision@1": float(rel[:, 0].mean())}
    for r in sorted({1, 5, k}):
        out[f"recall@{r}"] = float((rel[:, :r].sum(-1) / n_rel).mean())
    return out


class RetrievalTask(Task):
    name = "retrieval"
    pipeline_tag = "sentence-similarity"
    needs_labels_known = False

    def __init__(self, per_class: int = 4, k: int = 10):
        if per_class < 2 or k < 1:
            raise ZooError(f"task={self.name}: need per_class >= 2 and k >= 1 (got {per_class}, {k})")
        self.per_class, self.k = per_class, k
        self.primary_metric = f"ndcg@{k}"
        self.metrics = tuple(dict.fromkeys((f"ndcg@{k}", "map", "recall@1", "recall@5", f"recall@{k}", "precision@1")))

    def batches(self, data: TrainingSet, epoch: int) -> list[list[int]]:
        rng = epoch_rng(data.seed, epoch)
        groups = {y: idx for y, idx in by_label(data.labels).items() if len(idx) >= 2}
        if len(groups) < 2:
            raise ZooError(f"task={self.name}: fewer than 2 labels with 2+ training examples; retrieval needs "
                           f"groups of examples that share a label")
        per_batch = max(2, data.batch_size // self.per_class)
        labels = sorted(groups)
        batches = []
        for _ in range(data.steps):
            batch = []
            for y in rng.sample(labels, min(per_batch, len(labels))):
                batch += rng.sample(groups[y], min(self.per_class, len(groups[y])))
            batches.append(batch)
        return batches

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        import torch
        from torch.nn import functional as F

        from zoo_core.inference import pooled_vectors

        vectors = F.normalize(pooled_vectors(model, token_lists), dim=-1)
        y = torch.tensor(label_ids)
        relevant = (y.unsqueeze(0) == y.unsqueeze(1)) & ~torch.eye(len(y), dtype=torch.bool)
        queries = relevant.any(1)
        if not queries.any():
            return {m: 0.0 for m in self.metrics} | {"queries": 0, "note": "no example shares its label"}
        scores = (vectors @ vectors.t()).fill_diagonal_(-math.inf)
        report = retrieval_metrics(scores[queries], relevant[queries], self.k)
        return report | {"queries": int(queries.sum()), "candidates": len(y)}
