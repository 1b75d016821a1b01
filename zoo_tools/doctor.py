"""``zoo doctor``: the recipe checks on a fresh model before a long run.

Posts: "Sharing Useful Hints How To Train Neural Nets" and "[MASK] is All You Need" (a
softmax classifier starts at -log(1/C); overfit a tiny batch before the long run);
"Flow Gradient, Please Flow, Darn It!" (a layer whose mean |grad| stays near zero blocks
the flow); "Avoid Collapsed Token Representations" (conicity); "Unsupervised vision with
DINO" (collapse of a self-distilled representation: output entropies, arXiv:2104.14294 sec. 5.3).
Paper: Mohankumar et al., "Towards Transparent and Explainable Attention Models",
ACL 2020 (2020.acl-main.387): conicity = mean_i cos(v_i, mean_j v_j).

``run_doctor`` prepares a ``Trainer`` (data, model, optimizer) through its public
``prepare`` and runs each check below on it; every check returns a ``Check`` row.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.train.callbacks import (GRAD_FLOW_JSONL, GRAD_FLOW_PNG, NEAR_ZERO_STEPS, GradientFlow, abs_mean,
                                      layer_grad_means)

CONICITY_WARN = 0.8           # token states this aligned with their mean have collapsed
POOLED_CONICITY_WARN = 0.95   # pooled vectors this aligned with their mean: every input looks the same
CODEBOOK_WARN = 0.1           # fewer than 10% of the codes in use: codebook collapse
DOCTOR_JSON = "doctor.json"


@dataclass
class Check:
    name: str
    status: str  # pass, warn, fail, n/a
    value: str
    advice: str = ""
    data: dict = field(default_factory=dict)


# ---- conicity --------------------------------------------------------------------------
def conicity_per_sequence(states: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean cosine of each (unmasked) state with the mean state of its sequence, per
    sequence: (B, T, D) [+ (B, T) mask] -> (B,). 1: all states point one way; a set of T
    orthogonal states gives 1/sqrt(T)."""
    if states.dim() == 2:
        states = states.unsqueeze(0)
        mask = None if mask is None else mask.unsqueeze(0)
    states = states.detach().float()
    if mask is None:
        mask = torch.ones(states.shape[:2], dtype=torch.bool, device=states.device)
    keep = mask.bool().unsqueeze(-1).float()
    count = keep.sum(1).clamp_min(1)
    mean = (states * keep).sum(1) / count
    cos = F.cosine_similarity(states, mean.unsqueeze(1).expand_as(states), dim=-1, eps=1e-8)
    return (cos * keep.squeeze(-1)).sum(1) / count.squeeze(-1)


def conicity(states: Tensor, mask: Tensor | None = None) -> float:
    """Conicity (Mohankumar et al., ACL 2020) averaged over sequences with >= 2 tokens;
    NaN when every sequence has a single token."""
    if states.dim() == 2:
        return float(conicity_per_sequence(states, mask))
    per = conicity_per_sequence(states, mask)
    lengths = mask.bool().sum(1) if mask is not None else torch.full((states.shape[0],), states.shape[1])
    lengths = lengths.to(per.device)
    multi = lengths >= 2
    return float(per[multi].mean()) if multi.any() else float("nan")


# ---- codebooks and losses --------------------------------------------------------------
def codebook_usages(model: nn.Module) -> dict[str, object]:
    """``codebook_usage()`` of every submodule that has one (a quantising mixer): a share of
    codes in use in [0, 1], or a dict with ``usage`` (and e.g. ``used``, ``size``)."""
    found = {}
    for name, module in model.named_modules():
        fn = getattr(module, "codebook_usage", None)
        if callable(fn):
            found[name or "model"] = fn()
    return found


def _usage_share(value) -> float | None:
    if isinstance(value, dict):
        if "usage" in value:
            return float(value["usage"])
        if "used" in value and value.get("size"):
            return float(value["used"]) / float(value["size"])
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return float(value[0]) / float(value[1]) if value[1] else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _loss_floor(model, num_classes: int) -> float:
    """The lowest reachable loss: 0, or the entropy of the smoothed target."""
    eps = getattr(model.loss, "label_smoothing", None)  # a setting kept as an attribute, or in .cfg
    eps = float((getattr(getattr(model.loss, "cfg", None), "label_smoothing", 0.0) if eps is None else eps) or 0.0)
    if eps <= 0:
        return 0.0
    hit, miss = 1 - eps + eps / num_classes, eps / num_classes
    return -(hit * math.log(hit) + (num_classes - 1) * miss * math.log(miss))


def _spread_over_labels(order: list[int], labels: list[int], n: int) -> list[int]:
    """Up to n examples, taking the labels in turn so the batch is not one class."""
    by_label: dict[int, list[int]] = {}
    for i in order:
        by_label.setdefault(labels[i], []).append(i)
    picked, queues = [], list(by_label.values())
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


# ---- the patient: a prepared trainer and the examples the checks use --------------------
@dataclass
class Patient:
    trainer: object   # a zoo_core.train.loop.Trainer after prepare()
    probe: list[int]  # examples whose loss, gradients and states are measured
    batch: list[int]  # the small batch to overfit, spread over the labels

    @property
    def model(self):
        return self.trainer.model

    def inputs_for(self, idx: list[int]) -> tuple[dict[str, Tensor], Tensor]:
        t = self.trainer
        enc = t.model.encode([t.train_tokens[i] for i in idx])
        return ({k: v.to(t.device) for k, v in enc.items()}, torch.tensor([t.train_y[i] for i in idx], device=t.device))

    def loss(self, idx: list[int], inputs=None) -> tuple[Tensor, dict]:
        x, y = inputs or self.inputs_for(idx)
        task = self.trainer.task
        out = task.forward(self.model, self.model, x)  # the task's training pass (self_distill: views, teacher)
        return task.loss(self.model, out, y, idx), out


def examine(run, out_dir: Path, splits, overfit_examples: int, probe_examples: int) -> Patient:
    from zoo_core.train.loop import Trainer

    trainer = Trainer(run, out_dir, progress=False)
    trainer.prepare(splits)
    order = list(range(len(trainer.train_tokens)))
    random.Random(run.seed).shuffle(order)
    return Patient(trainer, order[:probe_examples], _spread_over_labels(order, trainer.train_y, overfit_examples))


# ---- the checks ------------------------------------------------------------------------
def check_initial_loss(patient: Patient) -> tuple[Check, float]:
    """The fresh model's loss against -log(1/C) (with label smoothing the uniform prediction
    still scores log C); also returns the fresh conicity, measured on the same pass."""
    n_classes = len(patient.trainer.labels)
    patient.model.eval()
    with torch.no_grad():
        x, y = patient.inputs_for(patient.probe)
        task = patient.trainer.task
        out = task.forward(patient.model, patient.model, x)
        scored = out["logits"] is not None and getattr(task, "loss_is_class_nll", True)
        init_loss = float(task.loss(patient.model, out, y, patient.probe)) if scored else None
        fresh_conicity = conicity(out["states"], out["mask"])
    expected = math.log(n_classes)
    if init_loss is None:
        return Check("initial loss", "n/a", "the loss scores no class logits", ""), fresh_conicity
    ratio = init_loss / expected
    status = "pass" if abs(ratio - 1) <= 0.2 else ("warn" if 0.5 <= ratio <= 2 else "fail")
    advice = "" if status == "pass" else (
        "the fresh model is already confident: shrink the output head's initial weights or the pooled "
        "vector's scale (a softmax classifier should start near uniform)" if ratio > 1 else
        "lower than chance before training: check that labels and inputs are not leaking or duplicated")
    return Check("initial loss", status, f"{init_loss:.3f} (expected -log(1/{n_classes}) = {expected:.3f})",
                 advice, {"loss": init_loss, "expected": expected}), fresh_conicity


def check_gradient_reach(patient: Patient) -> Check:
    """One backward pass: every trainable parameter must get a non-zero gradient."""
    model = patient.model
    model.train()
    model.zero_grad(set_to_none=True)
    patient.loss(patient.probe)[0].backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    frozen = sum(1 for p in model.parameters() if not p.requires_grad)
    dead = [n for n, p in trainable if p.grad is None or not bool(abs_mean(p.grad) > 0)]
    model.zero_grad(set_to_none=True)
    name = "gradient reaches every parameter"
    if dead:
        return Check(name, "fail", f"{len(dead)} of {len(trainable)} get none: {', '.join(dead[:4])}"
                     + (" ..." if len(dead) > 4 else ""),
                     "a parameter without gradient is unused in forward, detached (.detach(), .data, "
                     "no_grad) or multiplied by zero; if it is meant to be fixed, freeze it (COMPONENT.freeze=true)",
                     {"dead": dead})
    note = f"; {frozen} frozen" if frozen else ""
    return Check(name, "pass", f"{len(trainable)} of {len(trainable)}{note}", "",
                 {"trainable": len(trainable), "frozen": frozen})


def overfit_batch(patient: Patient, out_dir: Path, max_steps: int, max_seconds: float,
                  target_loss: float) -> tuple[list[float], GradientFlow, float]:
    """Optimise the small batch until its loss reaches ``target_loss`` (dropout off:
    memorising a batch is about capacity and gradients, not regularisation), recording the
    gradient flow on every step. Returns the losses, the flow and the optimizer's rate."""
    from zoo_core.model import build_optimizer
    from zoo_core.train.gradients import clip_gradients

    run, model = patient.trainer.run, patient.model
    flow = GradientFlow(out_dir / GRAD_FLOW_JSONL, patience=max(5, min(NEAR_ZERO_STEPS, max_steps // 5)))
    (out_dir / GRAD_FLOW_JSONL).unlink(missing_ok=True)
    flow.on_train_start(patient.trainer)
    optimizer = build_optimizer(model, run.model.optim, lr=run.train.lr)
    inputs = patient.inputs_for(patient.batch)
    model.eval()
    losses: list[float] = []
    start = time.perf_counter()
    for step in range(max_steps):
        loss = patient.loss(patient.batch, inputs)[0]
        if not torch.isfinite(loss):
            losses.append(float("inf"))
            break
        losses.append(loss.item())
        if losses[-1] <= target_loss or time.perf_counter() - start > max_seconds:
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        flow.record(step, layer_grad_means(model))
        if run.train.clip:
            clip_gradients(model, run.train.clip)  # also sparse gradients (embed.sparse=true)
        optimizer.step()
    flow.close()
    return losses, flow, optimizer.param_groups[0]["lr"]


def check_overfit(losses: list[float], target_loss: float, lr: float, examples: int) -> Check:
    first, last = losses[0], losses[-1]
    value = f"{first:.3f} -> {last:.4f} in {len(losses) - 1} steps on {examples} examples"
    data = {"losses": losses}
    if last <= target_loss:
        return Check("overfit one batch", "pass", value, "", data)
    value += f" (target {target_loss:.2f})"
    if math.isfinite(last) and last < 0.25 * first:
        return Check("overfit one batch", "warn", value,
                     f"learning but slowly: allow more steps (--steps) or raise train.lr (now {lr:.2g})", data)
    return Check("overfit one batch", "fail", value,
                 "cannot memorise a handful of examples: check labels and the loss, raise train.lr "
                 f"(now {lr:.2g}) or lower it if the loss diverged, see {GRAD_FLOW_PNG} for a blocked layer", data)


def check_loss_falls(losses: list[float]) -> Check:
    """A task whose loss has no known floor (self_distill): the batch's loss must fall."""
    first, last = losses[0], losses[-1]
    falls = math.isfinite(last) and last < 0.9 * first
    return Check("overfit one batch", "pass" if falls else "warn",
                 f"{first:.3f} -> {last:.4f} in {len(losses) - 1} steps (this task's loss has no known floor: "
                 f"checked that it falls by 10%)", "" if falls else "the loss does not fall: raise train.lr or --steps",
                 {"losses": losses})


def check_grad_flow(flow: GradientFlow) -> Check:
    """The layers whose gradient stayed near zero while overfitting."""
    name = "gradient flow per layer"
    if not flow.steps:
        return Check(name, "n/a", "no optimisation step was taken", "")
    blocked = flow.near_zero_layers()
    if blocked:
        return Check(name, "warn", f"near zero for {min(flow.patience, flow.steps)}+ steps: {', '.join(blocked[:4])}"
                     + (" ..." if len(blocked) > 4 else ""),
                     f"see {GRAD_FLOW_PNG}: a layer whose bar stays near zero blocks the flow; look for "
                     "saturated gates, a missing residual/normalisation, or weights scaled to zero",
                     {"blocked": blocked})
    means = flow.means()
    lo = min(means, key=means.get)
    return Check(name, "pass", f"{len(means)} layers; smallest mean |grad| {means[lo]:.1e} ({lo})", "",
                 {"means": means})


def check_conicity(fresh: float, after: float) -> Check:
    """Conicity of the token states, fresh and after memorising the batch."""
    name = "conicity of token states"
    if math.isnan(fresh):
        return Check(name, "n/a", "every sequence has one token", "")
    status = "warn" if max(fresh, after) > CONICITY_WARN else "pass"
    return Check(name, status, f"{fresh:.3f} fresh, {after:.3f} after overfitting (warn > {CONICITY_WARN})",
                 "" if status == "pass" else
                 "token states point one way (collapsed): attention over them turns uniform; try a "
                 "different mixer, a residual, or a conicity/contrastive penalty",
                 {"fresh": fresh, "after_overfit": after})


def check_codebooks(usages: dict[str, object]) -> Check:
    """The share of codes a quantiser uses."""
    if not usages:
        return Check("codebook usage", "n/a", "no component exposes codebook_usage()", "")
    shares = {k: _usage_share(v) for k, v in usages.items()}
    low = [k for k, s in shares.items() if s is not None and s < CODEBOOK_WARN]
    text = ", ".join(f"{k} {s:.0%}" if s is not None else f"{k} {usages[k]}" for k, s in shares.items())
    return Check("codebook usage", "warn" if low else "pass", text,
                 "" if not low else "few codes in use (codebook collapse): re-initialise dead codes "
                 "from batch states, lower the commitment weight, or use fewer codes",
                 {"usage": dict(usages)})


def check_collapse(patient: Patient) -> Check:
    """Representation collapse: the conicity of the pooled vectors over the probe examples (mean
    cosine to their mean vector) and, where the task reports them (self_distill), the entropy of
    the teacher's and student's output distributions: mean per-example entropy vs entropy of the
    mean (DINO's two collapse modes: uniform output, one dimension dominating)."""
    name = "representation collapse"
    x, _ = patient.inputs_for(patient.probe)
    report_of = getattr(patient.trainer.task, "collapse_report", None)
    if report_of is not None:
        r = report_of(patient.model, x)
        t, st = r["teacher"], r["student"]
        value = (f"teacher H {t['entropy']:.2f} vs H(mean) {t['entropy_of_mean']:.2f}, student H {st['entropy']:.2f} "
                 f"vs H(mean) {st['entropy_of_mean']:.2f} (log K {t['log_k']:.2f}); pooled conicity {r['conicity']:.3f}")
        data = {k: r[k] for k in ("teacher", "student", "conicity", "verdict")}
        collapsed, verdict = r["collapsed"], r["verdict"]
    else:
        patient.model.eval()
        with torch.no_grad():
            pooled = patient.model(x)["pooled"]
        c = conicity(pooled) if len(pooled) > 1 else float("nan")
        if math.isnan(c):
            return Check(name, "n/a", "fewer than 2 probe examples", "")
        collapsed = c > POOLED_CONICITY_WARN
        verdict = (f"collapsed: the pooled vectors point one way (conicity > {POOLED_CONICITY_WARN})" if collapsed
                   else "not collapsed")
        value, data = f"pooled conicity {c:.3f}", {"conicity": c, "verdict": verdict}
    return Check(name, "warn" if collapsed else "pass", f"{value}: {verdict.split(':')[0]}",
                 "every input maps to (nearly) the same output: for DINO lower the teacher temperature, keep "
                 "centring (loss.center_momentum < 1), raise the teacher momentum or the number of views"
                 if collapsed else "", data)


# ---- the whole examination -------------------------------------------------------------
def run_doctor(run, out_dir: str | Path, *, splits=None, overfit_examples: int = 16, max_steps: int = 300,
               probe_examples: int = 256, max_seconds: float = 120.0) -> list[Check]:
    """The recipe checks on a fresh model: initial loss, gradient reaching every parameter,
    overfitting one small batch (with the gradient flow recorded on every step), the flow,
    conicity and codebook usage. Writes grad_flow.png and doctor.json to ``out_dir``."""
    run = run.model_copy(deep=True)
    run.logger = "none"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    patient = examine(run, out_dir, splits, overfit_examples, probe_examples)
    initial, fresh_conicity = check_initial_loss(patient)
    checks = [initial, check_gradient_reach(patient)]
    target_loss = _loss_floor(patient.model, len(patient.trainer.labels)) + 0.05
    start = time.perf_counter()
    losses, flow, lr = overfit_batch(patient, out_dir, max_steps, max_seconds, target_loss)
    seconds = time.perf_counter() - start
    overfit = check_overfit(losses, target_loss, lr, len(patient.batch)) \
        if getattr(patient.trainer.task, "loss_is_class_nll", True) else check_loss_falls(losses)
    checks += [overfit, check_grad_flow(flow)]
    png = flow.plot(out_dir / GRAD_FLOW_PNG, title=f"gradient flow: zoo doctor, overfitting {len(patient.batch)} "
                    "examples") if flow.steps else None
    patient.model.eval()
    with torch.no_grad():
        _, out = patient.loss(patient.probe)
        checks += [check_conicity(fresh_conicity, conicity(out["states"], out["mask"])),
                   check_codebooks(codebook_usages(patient.model))]
    checks.append(check_collapse(patient))
    report = {"checks": [asdict(c) for c in checks], "grad_flow_png": str(png) if png else None,
              "overfit_seconds": seconds, "labels": patient.trainer.labels}
    (out_dir / DOCTOR_JSON).write_text(json.dumps(report, indent=1, default=str))
    return checks
