"""Self-distillation with no labels (DINO): ``task=self_distill loss=dino``.

Post: "Deep learning notes 05: Unsupervised vision with DINO" (global crops > 50% for the
teacher, local crops < 50% for the student too, the teacher an exponential average of the
student, kNN on labelled examples to evaluate).
Paper: Caron et al., "Emerging Properties in Self-Supervised Vision Transformers",
arXiv:2104.14294 (Algorithm 1; multi-crop; teacher momentum cosine 0.996 -> 1; weighted
kNN evaluation, k=20, T=0.07), and facebookresearch/dino main_dino.py (train_one_epoch).

Views of a text are built on its token inputs (any embedder whose padded inputs are per-token
tensors (B, T, ...)): a crop is a contiguous run of the text's real tokens (wherever the
padding is, both sides included) covering a share of them drawn from [global_min, 1]
(``global_crops`` views, seen by the teacher and the student) or [local_min, local_max]
(``local_crops`` views, student only), each token then hidden with probability ``drop``
(never all of a view's tokens). The student (the run's model, its pooled vector through
loss=dino's projection head) sees every view; the teacher (a copy of the model made at the
start, no gradient) sees the global views; loss=dino compares them over pairs of different
views. After each optimizer step the teacher follows the student:

    θ_t <- m θ_t + (1 - m) θ_s,    m = 1 - (1 - momentum) (cos(π k / K) + 1) / 2

(k the step, K the run's steps; m goes from ``momentum`` to 1). Labels never reach the
encoder: with ``probe=1`` (default) the run's head learns from the labels on the detached
pooled vector of the first global view (a linear probe; head=kernel_knn stores vectors and
labels), so the saved model classifies. Evaluation: weighted kNN (cosine, k, T) from the
training set's pooled vectors to each evaluated text ("accuracy", the primary metric; a
leave-one-out kNN on the evaluated texts when no training set is known, as in ``zoo eval``),
the same for the teacher ("teacher_accuracy"), the probe head's accuracy, and the collapse
diagnostics: the teacher's output entropies (mean per-text vs of the mean) and the pooled
vectors' conicity. Single process only (the teacher and the views are not sharded).
"""
from __future__ import annotations

import copy
import math

from zoo_core.errors import ZooError
from zoo_core.tasks import Task, TrainingSet, auxiliary_loss

from .classification import epoch_batches


def crop_views(inputs: dict, views: int, low: float, high: float, drop: float, generator=None) -> dict:
    """``views`` augmented copies of a padded batch, view-major ((views * B, T') tensors): each a
    contiguous run of a text's real tokens covering a share in [low, high] of them (at least
    one token), moved to the front (right padding), then token dropout ``drop``."""
    import torch

    mask = inputs["mask"]
    b, t = mask.shape
    device = mask.device
    mask = mask.repeat(views, 1)
    n = b * views
    length = mask.sum(1)
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices  # real positions first, in order
    share = low + (high - low) * torch.rand(n, generator=generator, device=device)
    size = (share * length).round().long().clamp(min=1).minimum(length)
    start = (torch.rand(n, generator=generator, device=device) * (length - size + 1)).long().minimum(length - size)
    width = int(size.max()) if n else 1
    j = torch.arange(width, device=device)
    pos = order.gather(1, (start.unsqueeze(1) + j.minimum(size.unsqueeze(1) - 1)))  # (n, width) source positions
    new_mask = j.unsqueeze(0) < size.unsqueeze(1)
    if drop > 0:
        kept = new_mask & (torch.rand(new_mask.shape, generator=generator, device=device) >= drop)
        new_mask = torch.where(kept.any(1, keepdim=True), kept, new_mask)
    out = {"mask": new_mask}
    for key, value in inputs.items():
        if key == "mask":
            continue
        if not (torch.is_tensor(value) and value.shape[:2] == (b, t)):
            raise ZooError(f"task=self_distill: the embedder's input {key!r} is not per token (B, T, ...), so views "
                           f"cannot be cut from it; use an embedder with per-token inputs (e.g. embed=hash)")
        value = value.repeat(views, *([1] * (value.dim() - 1)))
        index = pos.to(value.device).view(n, width, *([1] * (value.dim() - 2))).expand(n, width, *value.shape[2:])
        out[key] = value.gather(1, index)
    return out


def teacher_momentum(step: int, total: int, base: float) -> float:
    """The cosine schedule from ``base`` (step 0) to 1 (the last step)."""
    return 1 - (1 - base) * (math.cos(math.pi * min(step, total) / max(1, total)) + 1) / 2


def ema_update(teacher, student, momentum: float) -> None:
    """θ_t <- m θ_t + (1 - m) θ_s for every parameter of the teacher (matched by name)."""
    import torch

    own = dict(student.named_parameters())
    with torch.no_grad():
        for name, p in teacher.named_parameters():
            p.mul_(momentum).add_(own[name].detach(), alpha=1 - momentum)


class SelfDistillTask(Task):
    name = "self_distill"
    pipeline_tag = "feature-extraction"
    primary_metric = "accuracy"
    metrics = ("accuracy", "teacher_accuracy", "probe_accuracy", "entropy", "entropy_of_mean", "conicity",
               "collapsed")
    needs_labels_known = False
    loss_is_class_nll = False  # zoo doctor: the loss does not start at -log(1/C)

    def __init__(self, global_crops: int = 2, local_crops: int = 4, global_min: float = 0.5, local_min: float = 0.15,
                 local_max: float = 0.5, drop: float = 0.1, momentum: float = 0.996, k: int = 20,
                 temperature: float = 0.07, probe: int = 1):
        if global_crops < 1 or local_crops < 0 or global_crops + local_crops < 2:
            raise ZooError(f"task=self_distill: need global_crops >= 1 and at least 2 views in all "
                           f"(got global_crops={global_crops}, local_crops={local_crops})")
        if not (0 < global_min <= 1 and 0 < local_min <= local_max <= 1 and 0 <= drop < 1 and 0 <= momentum <= 1):
            raise ZooError(f"task=self_distill: need 0 < global_min <= 1, 0 < local_min <= local_max <= 1, "
                           f"0 <= drop < 1, 0 <= momentum <= 1 (got global_min={global_min}, local_min={local_min}, "
                           f"local_max={local_max}, drop={drop}, momentum={momentum})")
        self.global_crops, self.local_crops = int(global_crops), int(local_crops)
        self.global_min, self.local_min, self.local_max, self.drop = global_min, local_min, local_max, drop
        self.momentum, self.k, self.temperature, self.probe = momentum, int(k), temperature, bool(probe)
        self.teacher, self.resumed_teacher = None, None
        self.progress, self.train_features, self.train_y = 0.0, None, None

    # -- training ------------------------------------------------------------------------
    def batches(self, data: TrainingSet, epoch: int) -> list[list[int]]:
        return epoch_batches(data.lengths, data.batch_size, data.seed, epoch)

    def on_train_start(self, trainer) -> None:
        if getattr(trainer, "world", 1) > 1:
            raise ZooError("task=self_distill runs in one process (its teacher and views are not sharded); "
                           "run zoo train without torchrun")
        self.train_features, self.train_y = trainer.train_features, trainer.train_y
        self.total = trainer.total_steps
        self.make_teacher(trainer.model)

    def make_teacher(self, model):
        """The teacher: a copy of the student (embedder, mixers, pooler, projection head; not its
        classification head), without gradients, in eval mode."""
        if not hasattr(model.loss, "project"):
            raise ZooError(f"task=self_distill needs loss=dino (a projection head and the teacher's centre); "
                           f"got loss={model.spec.loss.name}")
        head, model.head = model.head, None
        try:
            self.teacher = copy.deepcopy(model)
        finally:
            model.head = head
        if self.resumed_teacher is not None:  # --resume: the teacher as it was, not a fresh copy
            self.teacher.load_state_dict(self.resumed_teacher, strict=True)
            self.resumed_teacher = None
        self.teacher.requires_grad_(False).eval()
        return self.teacher

    def state_tensors(self) -> dict:
        return {} if self.teacher is None else {f"teacher.{k}": v for k, v in self.teacher.state_dict().items()}

    def load_state_tensors(self, tensors: dict) -> None:
        teacher = {k[len("teacher."):]: v for k, v in tensors.items() if k.startswith("teacher.")}
        self.resumed_teacher = teacher or None

    def on_step_end(self, trainer, step: int, loss: float) -> None:
        self.progress = step / max(1, trainer.total_steps)
        ema_update(self.teacher, trainer.model, teacher_momentum(step - 1, trainer.total_steps, self.momentum))

    def forward(self, model, forward, inputs):
        import torch

        if "mask" not in inputs:
            raise ZooError("task=self_distill needs padded token inputs; this model takes the EmbeddingBag path")
        if self.teacher is None:  # outside a Trainer (zoo doctor): a teacher equal to the student
            self.make_teacher(model)
        views = [crop_views(inputs, self.global_crops, self.global_min, 1.0, self.drop)]
        if self.local_crops:
            views.append(crop_views(inputs, self.local_crops, self.local_min, self.local_max, self.drop))
        outs = [forward(v) for v in views]
        b = inputs["mask"].shape[0]
        student = torch.cat([model.loss.project(o["pooled"]) for o in outs]).view(-1, b, model.loss.out_dim)
        with torch.no_grad():
            teacher = self.teacher.loss.project(self.teacher(views[0])["pooled"])
        first = {k: (v[:b] if torch.is_tensor(v) and v.dim() and v.shape[0] == b * self.global_crops else v)
                 for k, v in outs[0].items()}
        first.update(self._probe_logits(model, first["pooled"]))
        return {**first, "dino_student": student, "dino_teacher": teacher.view(self.global_crops, b, -1),
                "progress": self.progress}

    def _probe_logits(self, model, pooled) -> dict:
        """The head's scores on the detached pooled vector: labels train the probe, never the encoder."""
        head = model.head
        if head is None:
            return {"logits": None}
        if getattr(head, "local_rule", False):
            probe = getattr(head, "probe", None)
            return {"logits": head(pooled.detach()), "probe_logits": probe(pooled.detach()) if probe else None}
        return {"logits": head(pooled.detach())}

    def loss(self, model, outputs, target, idx):
        from torch.nn import functional as F

        loss = model.loss(outputs, target)
        probe = outputs.get("probe_logits", outputs["logits"])
        if self.probe and probe is not None and probe.requires_grad:
            loss = loss + F.cross_entropy(probe, target)
        aux = auxiliary_loss(model)
        return loss if aux is None else loss + aux

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self, model, token_lists, label_ids, labels) -> dict:
        from zoo_core.inference import evaluate_classifier, pooled_vectors

        from zoo_plugins.losses.dino import collapse_verdict, output_entropies, pooled_conicity

        vectors = pooled_vectors(model, token_lists)
        report = {"accuracy": self.knn_accuracy(model, vectors, label_ids, len(labels)), "examples": len(label_ids)}
        teacher = self.teacher or model  # no teacher (zoo eval of a saved model): the student in its place
        t_vectors = vectors if teacher is model else pooled_vectors(teacher, token_lists)
        if teacher is not model:
            report["teacher_accuracy"] = self.knn_accuracy(teacher, t_vectors, label_ids, len(labels))
        if model.head is not None and len(label_ids) and list(model.labels or []) == list(labels):
            report["probe_accuracy"] = evaluate_classifier(model, token_lists, label_ids, labels)["accuracy"]
        entropies = None
        if hasattr(model.loss, "project") and len(vectors):
            entropies = output_entropies(self.output_probs(model, teacher, t_vectors, as_teacher=True))
            report.update({k: entropies[k] for k in ("entropy", "entropy_of_mean")})
        report["conicity"] = pooled_conicity(vectors) if len(vectors) else 0.0
        collapsed, verdict = collapse_verdict(entropies, report["conicity"])
        return report | {"collapsed": float(collapsed), "verdict": verdict}

    @staticmethod
    def output_probs(model, network, pooled, as_teacher: bool):
        """The DINO output distribution of pooled vectors through ``network``'s projection head:
        the teacher's softmax((g(x) - C) / τ_t) (C the student's loss's centre) or the
        student's softmax(g(x) / τ_s)."""
        import torch

        loss = model.loss
        with torch.no_grad():
            logits = network.loss.project(pooled.to(loss.center.device))
            return torch.softmax((logits - loss.center) / loss.teacher_temp if as_teacher else logits / loss.student_temp,
                                 -1)

    def collapse_report(self, model, inputs) -> dict:
        """zoo doctor's collapse check on a batch: the teacher's and the student's output
        entropies, the pooled conicity and the verdict (zoo_plugins.losses.dino)."""
        import torch

        from zoo_plugins.losses.dino import collapse_verdict, output_entropies, pooled_conicity

        teacher = self.teacher if self.teacher is not None else self.make_teacher(model)
        was = model.training
        model.eval()
        with torch.no_grad():
            pooled, t_pooled = model(inputs)["pooled"], teacher(inputs)["pooled"]
        model.train(was)
        out = {"teacher": output_entropies(self.output_probs(model, teacher, t_pooled, as_teacher=True)),
               "student": output_entropies(self.output_probs(model, model, pooled, as_teacher=False)),
               "conicity": pooled_conicity(pooled)}
        collapsed, verdict = collapse_verdict(out["teacher"], out["conicity"])
        s_collapsed, s_verdict = collapse_verdict(out["student"], out["conicity"])
        if s_collapsed and not collapsed:
            collapsed, verdict = True, "student " + s_verdict
        return out | {"collapsed": collapsed, "verdict": verdict}

    def knn_accuracy(self, model, vectors, label_ids, n_classes: int) -> float:
        """Weighted kNN (DINO's: cosine, top k, votes exp(cos / T)) against the training set's
        pooled vectors; leave-one-out over ``vectors`` when no training set is known."""
        import torch

        from zoo_core.inference import pooled_vectors
        from zoo_plugins.heads.kernel_knn import KernelKNNHead

        if not len(label_ids):
            return 0.0
        y = torch.tensor(label_ids)
        if self.train_features is not None:
            keys, key_y = pooled_vectors(model, self.train_features), torch.tensor(self.train_y)
            knn = KernelKNNHead(vectors.shape[1], n_classes, k=self.k, temperature=self.temperature,
                                memory=len(keys), probe=False)
            knn.refit(keys, key_y)
            with torch.no_grad():
                return float((knn(vectors).argmax(-1) == y).float().mean())
        sims = torch.nn.functional.normalize(vectors, dim=-1) @ torch.nn.functional.normalize(vectors, dim=-1).T
        sims.fill_diagonal_(-math.inf)
        top, idx = sims.topk(min(self.k, len(y) - 1), dim=-1) if len(y) > 1 else (sims, sims.long())
        votes = torch.zeros(len(y), n_classes).scatter_add_(1, y[idx], (top / self.temperature).exp())
        return float((votes.argmax(-1) == y).float().mean())
