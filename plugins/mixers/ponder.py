"""PonderNet: a step function applied until a learned halting unit stops it, per sequence.

Post: "Deep learning notes 07: PonderNet - Learn when to stop thinking" ("(h_i+1, y_i, λ_i) =
s(h_i)", "p_n = λ_n * TT_1..n-1 (1- λ_i)", "at inference λ is used probabilistically",
"loss = p_1*L(y_1)+p_2*L(y_2)+...+p_n*L(y_n)", "KL(p_i || geometricDistribution(λp))").
Paper: Banino, Balaguer, Blundell, "PonderNet: Learning to Ponder" (arXiv:2107.05407);
peer implementation labml.ai's ``ponder_net`` (ReconstructionLoss, RegularizationLoss).

With h_0 = x (B, T, D), the inner mixer s (``mixer.inner=...``) and the halting unit
λ(h) = σ(w · mean_t h_t + b) over the real tokens:

    h_n = norm(h_{n-1} + s(h_{n-1}, mask))               n = 1..N (N = max_steps)
    λ_n = λ(h_n) for n < N,  λ_N = 1                     (the N-th step always halts)
    p_n = λ_n Π_{i<n} (1 - λ_i)                          Σ_n p_n = 1
    y_n = head(pool(h_n))                                the model's own pooler and head
    L   = Σ_n p_n CE(y_n, y) + β KL(p || G),   G_n = λ_p (1-λ_p)^{n-1} / Σ_{m≤N} λ_p (1-λ_p)^{m-1}

(G: the geometric prior truncated at N and renormalised, so the KL is between two
distributions; L's first term uses per-example cross-entropy, the paper's classification
loss, with the loss component's label_smoothing if it has one.) In training every step runs;
at inference a sequence halts at step n with probability λ_n (``halt=sample``), or at the
first n with Σ_{i≤n} p_i ≥ threshold (``halt=threshold``), and the batch stops once every
sequence has halted; the output is h at each sequence's halting step (the draws come from a
generator seeded at each call, so a batch's predictions are reproducible). In training the
output, which only feeds the logged training accuracy, is the p-weighted mean Σ_n p_n h_n, and
``halt_step`` the most likely step. ``halt_step`` (B,) is recorded and the model reports it
as ``steps`` (zoo eval: "ponder steps").
The mixer must be the last of the stack (its step states go straight to the pooler).
Shape contract: (B, T, D) + mask -> (B, T, D), zero at padding; ``step_states`` (N' x
(B, T, D)), ``halting`` (B, N') p_n, ``halt_step`` (B,) long, from the last forward pass.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from zoo_core.interfaces import Mixer
from zoo_core.model import call_right_padded


def halting_distribution(lambdas: Tensor) -> Tensor:
    """(B, N) λ_n (λ_N is replaced by 1) -> (B, N) p_n = λ_n Π_{i<n} (1 - λ_i)."""
    lambdas = torch.cat([lambdas[:, :-1], torch.ones_like(lambdas[:, :1])], 1)
    survive = torch.cumprod(torch.cat([torch.ones_like(lambdas[:, :1]), 1 - lambdas[:, :-1]], 1), 1)
    return lambdas * survive


def geometric_prior(lambda_p: float, steps: int) -> Tensor:
    """(N,) G_n = λ_p (1-λ_p)^{n-1}, truncated at N and renormalised."""
    g = torch.tensor([lambda_p * (1 - lambda_p) ** n for n in range(steps)])
    return g / g.sum()


def ponder_loss(step_logits: Tensor, halting: Tensor, target: Tensor, lambda_p: float, beta: float,
                label_smoothing: float = 0.0) -> Tensor:
    """Σ_n p_n CE(y_n, y) + β KL(p || G), averaged over the batch. step_logits (B, N, C), halting (B, N)."""
    b, n, c = step_logits.shape
    ce = F.cross_entropy(step_logits.reshape(b * n, c), target.repeat_interleave(n), reduction="none",
                         label_smoothing=label_smoothing).view(b, n)
    prior = geometric_prior(lambda_p, n).to(halting)
    kl = (halting * (halting.clamp_min(1e-12).log() - prior.log())).sum(-1)
    return ((halting * ce).sum(-1) + beta * kl).mean()


class PonderMixer(Mixer):
    SEED = 0
    def __init__(self, dim: int, inner: nn.Module, max_steps: int = 6, lambda_p: float = 0.3, beta: float = 0.01,
                 halt: str = "sample", threshold: float = 0.5):
        super().__init__()
        self.dim, self.inner, self.max_steps = dim, inner, max_steps
        self.lambda_p, self.beta, self.halt, self.threshold = lambda_p, beta, halt, threshold
        self.causal = False  # the halting unit reads the whole sequence
        self.norm = nn.LayerNorm(dim)
        self.halting_unit = nn.Linear(dim, 1)
        nn.init.constant_(self.halting_unit.bias, math.log(lambda_p / (1 - lambda_p)))  # start at the prior's λ
        self.step_states: list[Tensor] = []

    @classmethod
    def from_config(cls, cfg):
        from zoo_core.factory import build

        fields = {f: getattr(cfg, f) for f in type(cfg).model_fields if f not in ("freeze", "inner")}
        return cls(inner=build(cfg.inner), **fields)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        keep = mask.unsqueeze(-1).to(x.dtype)
        h, states, lambdas = x, [], []
        halted = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        halt_step = torch.full((len(x),), self.max_steps - 1, dtype=torch.long, device=x.device)
        survive = torch.ones(len(x), device=x.device)
        gen = torch.Generator().manual_seed(self.SEED)  # sampled halting, reproducible for the same batch
        for n in range(self.max_steps):
            h = self.norm(h + call_right_padded(self.inner, h, mask)) * keep
            states.append(h)
            mean = (h * keep).sum(1) / keep.sum(1).clamp_min(1)
            last = n == self.max_steps - 1
            lam = torch.ones_like(survive) if last else torch.sigmoid(self.halting_unit(mean)).squeeze(-1)
            lambdas.append(lam)
            if self.training:
                continue
            cumulative = 1 - survive * (1 - lam)
            draw = torch.rand(lam.shape, generator=gen).to(lam.device)
            stop = draw < lam if self.halt == "sample" else cumulative >= self.threshold
            halt_step = torch.where(~halted & stop, torch.full_like(halt_step, n), halt_step)
            halted |= stop
            survive = survive * (1 - lam)
            if bool(halted.all()):
                break
        self.halting = halting_distribution(torch.stack(lambdas, 1))
        self.step_states = states
        if self.training:  # the loss reads every step; this output only feeds the logged training accuracy
            self.halt_step = self.halting.detach().argmax(-1)
            return torch.einsum("bn,bntd->btd", self.halting, torch.stack(states, 1))
        self.halt_step = halt_step
        return torch.stack(states, 1)[torch.arange(len(x), device=x.device), halt_step]

    def objective(self, outputs: dict, target: Tensor, loss) -> Tensor:
        """PonderNet's loss over the model's per-step predictions (``outputs["step_logits"]``)."""
        return ponder_loss(outputs["step_logits"], outputs["halting"], target, self.lambda_p, self.beta,
                           getattr(loss, "label_smoothing", 0.0))
