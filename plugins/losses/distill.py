"""Knowledge distillation: cross-entropy on the hard labels plus the temperature-softened
cross-entropy to a teacher's class probabilities.

Post: "[MASK] is All You Need" (a network that delivers the same decision in half the time or
space: "Model distillation or quantization might be applied here")
Paper: Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network", NIPS 2014
Deep Learning Workshop (arXiv:1503.02531), section 2

Section 2: soft targets q_i = exp(z_i / T) / sum_j exp(z_j / T) from the teacher's logits z at
a raised temperature T; the student matches them at the same T, and "since the magnitudes of
the gradients produced by the soft targets scale as 1/T^2 it is important to multiply them by
T^2"; the hard-label cross-entropy (at T = 1) is added with a considerably lower weight. Here

    loss = (1 - alpha) * CE(z_s, y) + alpha * T^2 * KL(q_teacher^T || softmax(z_s / T))

(KL rather than the cross-entropy: the same gradient, and 0 when the student matches). The
teacher is given by its probabilities p (an ensemble's averaged probabilities are no softmax
of one logit vector), so its softened targets are q^T proportional to p^(1/T), which is
softmax(z/T) when p = softmax(z). They arrive in ``outputs["teacher_probs"]``: with
``loss.teacher=MODEL`` (a saved zoo model on the same classes) the classification task scores
every training text with the teacher once, before the first step (``teacher_probabilities``),
and hands each batch its rows; benchmarks/langid_ensemble.py supplies an ensemble's instead.
Shape contract: outputs["logits"] (B, C), outputs["teacher_probs"] (B, C) rows summing to 1,
target (B,) long -> scalar.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from zoo_core.errors import ZooError
from zoo_core.interfaces import Loss


def soften(probs: Tensor, temperature: float) -> Tensor:
    """q proportional to p^(1/T): a probability vector at temperature T (softmax(z/T) for p = softmax(z))."""
    logp = torch.where(probs > 0, torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny)), float("-inf"))
    return F.softmax(logp / temperature, dim=-1)  # a class the teacher rules out (p = 0) stays at 0


def distill_loss(logits: Tensor, teacher_probs: Tensor, target: Tensor, temperature: float, alpha: float) -> Tensor:
    soft = soften(teacher_probs.float(), temperature)
    kl = F.kl_div(F.log_softmax(logits.float() / temperature, dim=-1), soft, reduction="batchmean")
    hard = F.cross_entropy(logits, target) if alpha < 1 else logits.new_zeros(())
    return (1 - alpha) * hard + alpha * temperature ** 2 * kl


def teacher_probabilities(ref: str, texts: list[str], labels: list[str]) -> Tensor:
    """(N, C) class probabilities of the saved model ``ref`` for ``texts``, with its own tokenizer
    and features, columns in the order of ``labels`` (the student's). Its classes must be the same."""
    import zoo_core
    from zoo_core.batches import featurize_texts
    from zoo_core.inference import class_probabilities

    try:
        teacher = zoo_core.load(ref)
    except ZooError as e:
        raise ZooError(f"loss.teacher={ref}: {e}") from None
    if sorted(teacher.labels) != sorted(labels):
        missing, extra = sorted(set(labels) - set(teacher.labels)), sorted(set(teacher.labels) - set(labels))
        raise ZooError(f"loss.teacher={ref}: its classes differ from the data's (missing {missing[:5]}, extra "
                       f"{extra[:5]}); distil from a model trained on the same classes")
    probs = class_probabilities(teacher, featurize_texts(teacher, texts, dedup=False))
    return probs[:, [teacher.labels.index(label) for label in labels]].float()


class DistillLoss(Loss):
    needs_head = True
    uses_states = False  # reads the logits only

    def __init__(self, *, temperature: float = 2.0, alpha: float = 0.5, teacher: str | None = None):
        super().__init__()
        self.temperature, self.alpha, self.teacher = temperature, alpha, teacher

    def teacher_targets(self, texts: list[str], labels: list[str]) -> Tensor:
        """(N, C): ``loss.teacher``'s probabilities of ``texts`` in the order of ``labels`` (the
        classification task calls it once before training when ``teacher`` is set)."""
        return teacher_probabilities(self.teacher, texts, labels)

    def contract_outputs(self, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """What the runner adds, for the contract kit: a teacher's probabilities beside the logits."""
        g = torch.Generator().manual_seed(0)
        return {"teacher_probs": F.softmax(torch.randn(outputs["logits"].shape, generator=g), dim=-1)}

    def forward(self, outputs: dict[str, Tensor], target: Tensor) -> Tensor:
        teacher = outputs.get("teacher_probs")
        if teacher is None:
            raise ZooError("loss=distill needs a teacher: set loss.teacher=MODEL (a saved zoo model trained on the "
                           "same classes; task=classification scores the training texts with it), or use "
                           "loss=cross_entropy")
        if teacher.shape != outputs["logits"].shape:
            raise ZooError(f"loss=distill: teacher probabilities {tuple(teacher.shape)} do not match the logits "
                           f"{tuple(outputs['logits'].shape)}; the teacher must score the same classes in the "
                           f"same order")
        return distill_loss(outputs["logits"], teacher, target, self.temperature, self.alpha)
