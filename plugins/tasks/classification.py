"""Classification: class logits scored by accuracy and macro-F1 (the default task).

Batches are shuffled and length-bucketed (examples of similar length share a batch, so
little padding), and depend only on (seed, epoch).
"""
from __future__ import annotations

import numpy as np

from zoo_core.tasks import Task, TrainingSet, epoch_seed


def epoch_batches(lengths, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffled, length-bucketed batches (within each run of 50 batches' worth of shuffled
    examples, sorted by length); depends only on (seed, epoch). numpy, not a Python sort with a
    key function: 133k examples take ~15 ms instead of ~130 ms an epoch."""
    rng = np.random.default_rng(epoch_seed(seed, epoch))
    lengths = np.asarray(lengths)
    idx = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(idx), chunk):
        part = idx[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[j:j + batch_size].tolist() for j in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class ClassificationTask(Task):
    name = "classification"
    pipeline_tag = "text-classification"
    primary_metric = "accuracy"
    metrics = ("accuracy", "macro_f1", "loss", "ponder_steps")  # ponder_steps: only a model with mixer=ponder

    teacher_probs = None  # (N, C): loss.teacher's probabilities of the training texts (loss=distill)

    def batches(self, data: TrainingSet, epoch: int) -> list[list[int]]:
        return epoch_batches(data.lengths, data.batch_size, data.seed, epoch)

    def on_train_start(self, trainer) -> None:
        """loss=distill with loss.teacher=MODEL: the teacher scores every training text once."""
        loss = trainer.model.loss
        if getattr(loss, "teacher", None) and callable(getattr(loss, "teacher_targets", None)):
            self.teacher_probs = loss.teacher_targets(trainer.splits.train.texts, trainer.labels)

    def loss(self, model, outputs, target, idx):
        if self.teacher_probs is not None:  # each example's row of the teacher's probabilities
            rows = self.teacher_probs[np.asarray(idx)].to(outputs["logits"].device)
            outputs = {**outputs, "teacher_probs": rows}
        return super().loss(model, outputs, target, idx)

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        from zoo_core.inference import evaluate_classifier

        return evaluate_classifier(model, token_lists, label_ids, labels)
