"""Tasks: what a run learns and how it is scored. The task is part of the recipe
(``task=classification``) and of the model card; the trainer asks it for batches, the
loss of a batch and the evaluation metrics, so new tasks plug in without a new loop.

A task implements:
    name, pipeline_tag, primary_metric (higher is better), metrics (names it reports)
    batches(trainer, epoch) -> list of index lists over the training examples
    loss(model, outputs, target, idx) -> scalar
    evaluate(model, token_lists, label_ids, labels) -> dict of metrics (and details)

Tasks and their options (``task=NAME`` or ``task=NAME:KEY=VALUE,KEY=VALUE``):
    classification                   class logits; accuracy, macro-F1
    few_shot:ways=5,shots=5,queries=5,episodes=300,novel=0.25
        N-way K-shot episodes: each training batch is an episode of ``ways`` classes with
        ``shots`` support and ``queries`` query examples each (support first, so the
        ``prototypical`` loss, whose default splits each class in half, sees them as such);
        a share ``novel`` of the classes (every k-th label) is never trained on and the
        evaluation samples its episodes from those classes only. Prototypes are the mean of
        the support vectors, or query-conditioned centres when the pooler has ``centres``
        (``pool=prototype_attention``). Reports mean episode accuracy with a 95% interval.
    retrieval:per_class=4,k=10
        a query retrieves the other examples with its label (e.g. data=lemmas: a word form
        retrieves the other forms of its lemma) by cosine of the pooled vectors; batches
        hold ``per_class`` examples of each of batch_size/per_class labels; reports NDCG@k,
        MAP, recall@1/5/k and precision@1.

Every task adds the ``aux_loss`` that modules store during the forward pass (e.g. the vq
mixer's commitment loss) to its loss.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict

from .errors import ZooError, did_you_mean


def auxiliary_loss(model):
    """The sum of every submodule's ``aux_loss`` tensor from the last forward pass, or None."""
    import torch

    terms = [m.aux_loss for m in model.modules() if isinstance(getattr(m, "aux_loss", None), torch.Tensor)]
    return sum(terms) if terms else None


class Task:
    """What every task shares: the model's own loss plus the modules' ``aux_loss``."""

    def loss(self, model, outputs, target, idx):
        loss = model.loss(outputs, target)
        aux = auxiliary_loss(model)
        return loss if aux is None else loss + aux


class ClassificationTask(Task):
    name = "classification"
    pipeline_tag = "text-classification"
    primary_metric = "accuracy"
    metrics = ("accuracy", "macro_f1", "loss")

    def batches(self, trainer, epoch: int) -> list[list[int]]:
        from .training import epoch_batches

        return epoch_batches(trainer.lengths, trainer.run.train.batch_size, trainer.run.seed, epoch)

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        from .training import evaluate_tokens

        return evaluate_tokens(model, token_lists, label_ids, labels)


# ---- shared pieces ---------------------------------------------------------------------
def pooled_vectors(model, token_lists, batch_size: int = 256):
    """(N, D) pooled vectors in input order (eval mode, no gradients)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
    out = [None] * len(token_lists)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            inputs = {k: v.to(device) for k, v in model.encode([token_lists[i] for i in idx]).items()}
            pooled = model(inputs)["pooled"].float().cpu()
            for j, i in enumerate(idx):
                out[i] = pooled[j]
    return torch.stack(out) if out else torch.zeros(0, model.pool.out_dim)


def _by_label(label_ids) -> dict[int, list[int]]:
    groups = defaultdict(list)
    for i, y in enumerate(label_ids):
        groups[int(y)].append(i)
    return groups


def _steps(trainer) -> int:
    """Batches per epoch: as many as the trainer's LR schedule counts."""
    return max(1, math.ceil(len(trainer.train_y) / trainer.run.train.batch_size))


# ---- few-shot ----------------------------------------------------------------------------
class FewShotTask(Task):
    name = "few_shot"
    pipeline_tag = "text-classification"
    primary_metric = "accuracy"
    metrics = ("accuracy", "accuracy_ci95", "macro_f1", "loss")

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

    def batches(self, trainer, epoch: int) -> list[list[int]]:
        rng = random.Random(trainer.run.seed * 1_000_003 + epoch)
        held_out = self.novel_classes(len(trainer.labels))
        groups = {y: idx for y, idx in _by_label(trainer.train_y).items() if y not in held_out and len(idx) >= 2}
        if len(groups) < 2:
            raise ZooError(f"task={self.name}: fewer than 2 training classes with 2+ examples (after holding out "
                           f"novel={self.novel} of the classes); add data or set task={self.name}:novel=0")
        ways = min(self.ways, len(groups))
        episodes = []
        for _ in range(_steps(trainer)):
            support, query = [], []
            for y in rng.sample(sorted(groups), ways):
                picked = rng.sample(groups[y], min(len(groups[y]), self.shots + self.queries))
                k = min(self.shots, len(picked) - 1)
                support += picked[:k]
                query += picked[k:]
            episodes.append(support + query)
        return episodes

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        import torch
        from torch.nn import functional as F

        from .metrics import classification_report

        vectors = pooled_vectors(model, token_lists)
        groups = _by_label(label_ids)
        held_out = self.novel_classes(len(labels))
        pool = {y: idx for y, idx in groups.items() if (not held_out or y in held_out) and len(idx) >= 2}
        ways = min(self.ways, len(pool))
        if ways < 2:
            return {"accuracy": 0.0, "accuracy_ci95": 0.0, "macro_f1": 0.0, "loss": 0.0, "episodes": 0,
                    "note": "fewer than 2 evaluation classes with 2+ examples"}
        rng = random.Random(12345)  # the same episodes for every model
        centres = getattr(model.pool, "centres", None)
        accs, losses, truth, guess = [], [], [], []
        for _ in range(self.episodes):
            classes = rng.sample(sorted(pool), ways)
            shots = min([self.shots] + [len(pool[y]) - 1 for y in classes])
            sup, qry, qy = [], [], []
            for c, y in enumerate(classes):
                picked = rng.sample(pool[y], min(len(pool[y]), shots + self.queries))
                sup.append(picked[:shots])
                qry += picked[shots:]
                qy += [c] * (len(picked) - shots)
            support = vectors[torch.tensor(sup)]  # (N, K, D)
            query = vectors[torch.tensor(qry)]
            with torch.no_grad():
                protos = centres(query, support) if centres is not None else support.mean(1).expand(len(qry), -1, -1)
            logits = -(query.unsqueeze(1) - protos).pow(2).sum(-1)  # (Q, N)
            target = torch.tensor(qy)
            pred = logits.argmax(-1)
            accs.append(float((pred == target).float().mean()))
            losses.append(float(F.cross_entropy(logits, target)))
            truth += [classes[c] for c in qy]
            guess += [classes[int(p)] for p in pred]
        mean = sum(accs) / len(accs)
        std = math.sqrt(sum((a - mean) ** 2 for a in accs) / max(1, len(accs) - 1))
        report = classification_report(truth, guess, labels)
        return {"accuracy": mean, "accuracy_ci95": 1.96 * std / math.sqrt(len(accs)), "macro_f1": report["macro_f1"],
                "loss": sum(losses) / len(losses), "episodes": len(accs), "ways": ways, "shots": self.shots,
                "classes": "novel" if held_out else "all"}


# ---- retrieval ---------------------------------------------------------------------------
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
    primary_metric = "ndcg@10"

    def __init__(self, per_class: int = 4, k: int = 10):
        if per_class < 2 or k < 1:
            raise ZooError(f"task={self.name}: need per_class >= 2 and k >= 1 (got {per_class}, {k})")
        self.per_class, self.k = per_class, k
        self.primary_metric = f"ndcg@{k}"
        self.metrics = (f"ndcg@{k}", "map", "recall@1", "recall@5", f"recall@{k}", "precision@1", "accuracy",
                        "macro_f1", "loss")

    def batches(self, trainer, epoch: int) -> list[list[int]]:
        rng = random.Random(trainer.run.seed * 1_000_003 + epoch)
        groups = {y: idx for y, idx in _by_label(trainer.train_y).items() if len(idx) >= 2}
        if len(groups) < 2:
            raise ZooError(f"task={self.name}: fewer than 2 labels with 2+ training examples; retrieval needs "
                           f"groups of examples that share a label")
        per_batch = max(2, trainer.run.train.batch_size // self.per_class)
        labels = sorted(groups)
        batches = []
        for _ in range(_steps(trainer)):
            batch = []
            for y in rng.sample(labels, min(per_batch, len(labels))):
                batch += rng.sample(groups[y], min(self.per_class, len(groups[y])))
            batches.append(batch)
        return batches

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        import torch
        from torch.nn import functional as F

        vectors = F.normalize(pooled_vectors(model, token_lists), dim=-1)
        y = torch.tensor(label_ids)
        relevant = (y.unsqueeze(0) == y.unsqueeze(1)) & ~torch.eye(len(y), dtype=torch.bool)
        queries = relevant.any(1)
        if not queries.any():
            return {m: 0.0 for m in self.metrics} | {"queries": 0, "note": "no example shares its label"}
        scores = (vectors @ vectors.t()).fill_diagonal_(-math.inf)
        report = retrieval_metrics(scores[queries], relevant[queries], self.k)
        # the trainer's epoch log and card read accuracy/macro_f1/loss: here, precision@1, and 1 - MAP
        report.update(accuracy=report["precision@1"], macro_f1=report["map"], loss=1.0 - report["map"],
                      queries=int(queries.sum()), candidates=len(y))
        return report


TASKS = {"classification": ClassificationTask, "few_shot": FewShotTask, "retrieval": RetrievalTask}


def parse_task(text: str) -> tuple[str, dict]:
    """``few_shot:ways=5,shots=1`` -> ("few_shot", {"ways": 5, "shots": 1})."""
    name, _, rest = text.partition(":")
    options = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ZooError(f"task={text}: write task=NAME:KEY=VALUE,KEY=VALUE, e.g. task=few_shot:ways=5,shots=1")
        try:
            options[key.strip()] = int(value) if value.strip().isdigit() else float(value)
        except ValueError:
            raise ZooError(f"task={text}: {key.strip()}={value.strip()} is not a number; task options are "
                           f"numbers, e.g. task=few_shot:ways=5,shots=1") from None
    return name.strip(), options


def get_task(name: str):
    base, options = parse_task(name)
    if base not in TASKS:
        raise ZooError(f"task={base}: unknown task;{did_you_mean(base, TASKS)} tasks: {', '.join(TASKS)}")
    try:
        return TASKS[base](**options)
    except TypeError:
        import inspect

        allowed = [p for p in inspect.signature(TASKS[base]).parameters]
        raise ZooError(f"task={name}: unknown option for {base}; options: {', '.join(allowed) or 'none'}") from None
