"""Classification: class logits scored by accuracy and macro-F1 (the default task).

Batches are shuffled and length-bucketed (examples of similar length share a batch, so
little padding), and depend only on (seed, epoch).
"""
from __future__ import annotations

from zoo_core.tasks import Task, TrainingSet, epoch_rng


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffled, length-bucketed batches; depends only on (seed, epoch)."""
    rng = epoch_rng(seed, epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(idx), chunk):
        part = sorted(idx[start:start + chunk], key=lambda i: lengths[i])
        batches += [part[j:j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


class ClassificationTask(Task):
    name = "classification"
    pipeline_tag = "text-classification"
    primary_metric = "accuracy"
    metrics = ("accuracy", "macro_f1", "loss", "ponder_steps")  # ponder_steps: only a model with mixer=ponder

    def batches(self, data: TrainingSet, epoch: int) -> list[list[int]]:
        return epoch_batches(data.lengths, data.batch_size, data.seed, epoch)

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        from zoo_core.inference import evaluate_classifier

        return evaluate_classifier(model, token_lists, label_ids, labels)
