"""DINO: self-distillation with no labels; the loss and the student's projection head.

Post: "Deep learning notes 05: Unsupervised vision with DINO" (student and EMA teacher, global
crops for the teacher, all crops for the student, the teacher's running-mean centring and
sharpened softmax against collapse; "loss is combination of cross-difference").
Paper: Caron et al., "Emerging Properties in Self-Supervised Vision Transformers",
arXiv:2104.14294 (Algorithm 1, eq. 1-4, section 3.1), and its code (facebookresearch/dino:
main_dino.py ``DINOLoss``, vision_transformer.py ``DINOHead``).

Projection head (DINOHead): g(x) = W_norm · normalize(MLP(x)), the MLP ``layers`` linear
layers with GELU (in -> hidden -> ... -> bottleneck), the last layer weight-normalised
(W_norm[k] = g_k v_k / |v_k|, g fixed at 1 with ``norm_last_layer``).

Loss over views (Algorithm 1 with multi-crop): student logits s (V_s, B, K) of every view,
teacher logits t (V_t, B, K) of the first V_t (global) views, centre C (K,):

    P_t^i = softmax((t_i - C) / τ_t)              centring and sharpening (eq. 4, τ_t 0.04)
    log P_s^v = log_softmax(s_v / τ_s)            (τ_s 0.1)
    loss = mean over pairs (i, v), v != i, of  mean_b  -Σ_k P_t^i[b, k] log P_s^v[b, k]
    C <- m C + (1 - m) mean_{i, b} t_i[b]         after the loss (m = center_momentum, 0.9)

τ_t warms up linearly from ``warmup_teacher_temp`` over ``warmup_share`` of the training
(``outputs["progress"]`` in [0, 1], set by the task). The teacher network, its EMA and the
views belong to ``task=self_distill`` (zoo_plugins.tasks.self_distill), which puts
``dino_student`` and ``dino_teacher`` logits into the outputs; the target is never read.
Shape contract: outputs["dino_student"] (V_s, B, K), outputs["dino_teacher"] (V_t, B, K),
V_t <= V_s, the first V_t student views the teacher's -> scalar. ``needs_head`` is True so
the run's head (a linear probe or head=kernel_knn) is built; the task trains it on detached
features only. ``uses_states`` stays True: views are cut from padded token inputs.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.errors import ZooError
from zoo_core.interfaces import Loss


class DinoProjection(nn.Module):
    """MLP -> L2-normalised bottleneck -> weight-normalised linear layer to K logits."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 256, bottleneck_dim: int = 64, layers: int = 3,
                 norm_last_layer: bool = True):
        super().__init__()
        widths = [in_dim] + [hidden_dim] * (layers - 1) + [bottleneck_dim]
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            mods.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                mods.append(nn.GELU())
        self.mlp = nn.Sequential(*mods)
        for m in self.mlp:
            if isinstance(m, nn.Linear):  # the reference's trunc_normal(std=.02), zero bias
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.last_v = nn.Parameter(torch.empty(out_dim, bottleneck_dim))
        nn.init.kaiming_uniform_(self.last_v, a=math.sqrt(5))  # nn.Linear's initialisation
        g = torch.ones(out_dim, 1)
        if norm_last_layer:
            self.register_buffer("last_g", g)
        else:
            self.last_g = nn.Parameter(g)

    def forward(self, x: Tensor) -> Tensor:
        z = F.normalize(self.mlp(x), dim=-1)
        weight = self.last_g * self.last_v / self.last_v.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return z @ weight.T


def dino_cross_entropy(student: Tensor, teacher: Tensor, center: Tensor, teacher_temp: float,
                       student_temp: float) -> Tensor:
    """The mean over pairs of different views (i, v) of -Σ_k softmax((t_i - C)/τ_t) log_softmax(s_v/τ_s)."""
    if teacher.shape[0] > student.shape[0] or student.shape[0] < 2:
        raise ZooError(f"loss=dino: needs at least 2 student views and no more teacher views than student views "
                       f"(got {student.shape[0]} and {teacher.shape[0]}); use task=self_distill")
    q = F.softmax((teacher.detach().float() - center) / teacher_temp, dim=-1)
    log_p = F.log_softmax(student.float() / student_temp, dim=-1)
    terms = [-(q[i] * log_p[v]).sum(-1).mean() for i in range(q.shape[0]) for v in range(log_p.shape[0]) if v != i]
    return torch.stack(terms).mean()


class DinoLoss(Loss):
    needs_head = True

    def __init__(self, dim: int = 64, out_dim: int = 1024, hidden_dim: int = 256, bottleneck_dim: int = 64,
                 layers: int = 3, norm_last_layer: bool = True, student_temp: float = 0.1, teacher_temp: float = 0.04,
                 warmup_teacher_temp: float = 0.04, warmup_share: float = 0.0, center_momentum: float = 0.9):
        super().__init__()
        self.dim, self.out_dim = dim, out_dim
        self.student_temp, self.teacher_temp, self.warmup_teacher_temp = student_temp, teacher_temp, warmup_teacher_temp
        self.warmup_share, self.center_momentum = warmup_share, center_momentum
        self.project = DinoProjection(dim, out_dim, hidden_dim, bottleneck_dim, layers, norm_last_layer)
        self.register_buffer("center", torch.zeros(out_dim))

    def teacher_temperature(self, progress: float) -> float:
        """τ_t at ``progress`` (share of training done): linear warm-up, then constant."""
        if self.warmup_share <= 0 or progress >= self.warmup_share:
            return self.teacher_temp
        return self.warmup_teacher_temp + (self.teacher_temp - self.warmup_teacher_temp) * progress / self.warmup_share

    def forward(self, outputs: dict[str, Tensor], target: Tensor | None = None) -> Tensor:
        if "dino_student" not in outputs:
            raise ZooError("loss=dino needs a student and a teacher over several views of each text; "
                           "train it with task=self_distill")
        student, teacher = outputs["dino_student"], outputs["dino_teacher"]
        loss = dino_cross_entropy(student, teacher, self.center, self.teacher_temperature(outputs.get("progress", 1.0)),
                                  self.student_temp)
        if self.training:
            self.update_center(teacher)
        return loss

    def contract_outputs(self, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """What task=self_distill adds, made from a ZooModel's outputs alone (the contract kit):
        three student views of the pooled vectors (the pooled, scaled, reversed in the batch)
        and the teacher's two global views, detached."""
        pooled = outputs["pooled"]
        student = torch.stack([self.project(v) for v in (pooled, 0.5 * pooled, pooled.flip(0))])
        return {"dino_student": student, "dino_teacher": student[:2].detach()}

    @torch.no_grad()
    def update_center(self, teacher: Tensor) -> None:
        """C <- m C + (1 - m) · the batch mean of the teacher's logits (all its views)."""
        batch = teacher.detach().float().reshape(-1, teacher.shape[-1]).mean(0)
        self.center.mul_(self.center_momentum).add_(batch.to(self.center.dtype), alpha=1 - self.center_momentum)


# ---- collapse diagnostics (the task's evaluation and zoo doctor) -------------------------
COLLAPSE_SHARE = 0.05  # H(mean p) - mean H(p) below this share of log K: every input gets the same output
CONICITY_COLLAPSE = 0.95  # pooled vectors this aligned with their mean point one way


def output_entropies(probs: Tensor) -> dict[str, float]:
    """(N, K) distributions -> mean per-sample entropy, entropy of the mean distribution and
    their gap (the information the output carries about the input), each also / log K."""
    p = probs.detach().float().clamp_min(0)
    log_k = math.log(p.shape[-1])
    per = -(p * p.clamp_min(1e-30).log()).sum(-1).mean()
    mean = p.mean(0)
    of_mean = -(mean * mean.clamp_min(1e-30).log()).sum()
    return {"entropy": float(per), "entropy_of_mean": float(of_mean), "information": float(of_mean - per),
            "log_k": log_k}


def pooled_conicity(vectors: Tensor) -> float:
    """Mean cosine of each pooled vector with the mean pooled vector (1: one direction)."""
    v = vectors.detach().float()
    mean = v.mean(0, keepdim=True)
    return float(F.cosine_similarity(v, mean.expand_as(v), dim=-1, eps=1e-8).mean())


def collapse_verdict(entropies: dict[str, float] | None, conicity: float) -> tuple[bool, str]:
    """(collapsed, one line) for output distributions' entropies and the pooled conicity. The
    paper's two collapse modes: a uniform output (H(p) ~ log K for every input) and one
    dimension dominating (every input puts its mass on the same dimension); both give the
    same output for every input, i.e. H(mean p) - mean H(p) ~ 0."""
    if conicity > CONICITY_COLLAPSE:
        return True, f"collapsed: the pooled vectors point one way (conicity {conicity:.3f} > {CONICITY_COLLAPSE})"
    if entropies is None:
        return False, f"not collapsed (pooled conicity {conicity:.3f})"
    e, log_k = entropies, entropies["log_k"]
    if e["information"] < COLLAPSE_SHARE * log_k:
        mode = "uniform output" if e["entropy"] > 0.5 * log_k else "one dimension dominates"
        return True, (f"collapsed ({mode}): every input gets the same distribution (H(mean)={e['entropy_of_mean']:.3f}"
                      f", mean H={e['entropy']:.3f}, log K={log_k:.3f}; conicity {conicity:.3f})")
    return False, (f"not collapsed: outputs differ across inputs (H(mean)={e['entropy_of_mean']:.3f}, mean "
                   f"H={e['entropy']:.3f}, log K={log_k:.3f}; conicity {conicity:.3f})")
