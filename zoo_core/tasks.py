"""Tasks: what a run learns and how it is scored. The task is part of the recipe
(``task=classification``) and of the model card; the trainer asks it for batches, the
loss of a batch and the evaluation metrics, so new tasks plug in without a new loop.

A task implements:
    name, pipeline_tag, primary_metric (higher is better), metrics (names it reports)
    batches(trainer, epoch) -> list of index lists over the training examples
    loss(model, outputs, target, idx) -> scalar
    evaluate(model, token_lists, label_ids, labels) -> dict of metrics (and details)
"""
from __future__ import annotations

from .errors import ZooError, did_you_mean


class ClassificationTask:
    name = "classification"
    pipeline_tag = "text-classification"
    primary_metric = "accuracy"
    metrics = ("accuracy", "macro_f1", "loss")

    def batches(self, trainer, epoch: int) -> list[list[int]]:
        from .training import epoch_batches

        return epoch_batches(trainer.lengths, trainer.run.train.batch_size, trainer.run.seed, epoch)

    def loss(self, model, outputs, target, idx):
        return model.loss(outputs, target)

    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        from .training import evaluate_tokens

        return evaluate_tokens(model, token_lists, label_ids, labels)


TASKS = {"classification": ClassificationTask}


def get_task(name: str):
    if name not in TASKS:
        raise ZooError(f"task={name}: unknown task;{did_you_mean(name, TASKS)} tasks: {', '.join(TASKS)}")
    return TASKS[name]()
