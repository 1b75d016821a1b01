"""Vector quantiser: each token state is replaced by its nearest codebook vector.

Post: "Vector Quantization: Avoiding Codebook Collapse" (dead codes never get updates; random
restarts fixed it). Papers: Dhariwal et al., "Jukebox", arXiv:2005.00341, section 3.1
(random restarts for embeddings; EMA codebook, commitment weight 0.02) and its reference
code (bottleneck.py: a code whose EMA count is below ``threshold`` is reset to a random
encoder output); van den Oord et al., "Neural Discrete Representation Learning" (VQ-VAE,
arXiv:1711.00937: straight-through estimator, commitment loss).

    k_t   = argmin_k |x_t - e_k|²
    out_t = x_t + sg(e_k - x_t)                          forward: e_k; backward: identity
    aux   = beta * mean |x_t - sg(e_k)|²                  commitment, over real tokens
    training: n_k <- mu n_k + (1-mu) count_k;  s_k <- mu s_k + (1-mu) sum of x assigned to k
              e_k = s_k / n_k where n_k >= threshold, else a random token state of the batch

The codebook is learned by the EMA (buffers, no gradient), so only the commitment term
needs to reach training: it is stored as ``self.aux_loss`` at every forward and the tasks
of zoo_core/tasks.py add every module's ``aux_loss`` to the task loss. Padding is never
assigned, counted or restarted from. ``codebook_usage()`` reports the share of codes used
recently (EMA count >= threshold), the perplexity of the usage distribution and the number
of restarts so far.
Shape contract: (B, T, D), mask -> (B, T, D) (each real position a codebook vector).
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from zoo_core.interfaces import Mixer

from .configs import VQConfig


class VQMixer(Mixer):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        self.cfg, self.dim = cfg, cfg.dim
        self.register_buffer("codebook", torch.randn(cfg.codes, cfg.dim))
        self.register_buffer("ema_count", torch.zeros(cfg.codes))
        self.register_buffer("ema_sum", torch.zeros(cfg.codes, cfg.dim))
        self.register_buffer("restarts", torch.zeros((), dtype=torch.long))
        self.aux_loss: Tensor | None = None

    def assign(self, flat: Tensor) -> Tensor:
        d = flat.pow(2).sum(-1, keepdim=True) - 2 * flat @ self.codebook.t() + self.codebook.pow(2).sum(-1)
        return d.argmin(-1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, t, d = x.shape
        codes = self.assign(x.reshape(-1, d).detach()).view(b, t)
        q = self.codebook[codes]
        real = x[mask]
        self.aux_loss = self.cfg.beta * F.mse_loss(real, q[mask].detach()) if real.numel() else x.sum() * 0
        if self.training:
            self._update(real.detach(), codes[mask])
        return x + (q - x).detach()

    @torch.no_grad()
    def _update(self, flat: Tensor, codes: Tensor) -> None:
        mu = self.cfg.decay
        onehot = F.one_hot(codes, self.cfg.codes).to(flat.dtype)
        self.ema_count.mul_(mu).add_(onehot.sum(0), alpha=1 - mu)
        self.ema_sum.mul_(mu).add_(onehot.t() @ flat, alpha=1 - mu)
        used = self.ema_count >= self.cfg.threshold
        self.codebook[used] = self.ema_sum[used] / self.ema_count[used].unsqueeze(1)
        dead = (~used).nonzero().flatten()
        if self.cfg.restart and len(dead) and len(flat):
            pick = torch.randint(len(flat), (len(dead),), device=flat.device)
            self.codebook[dead] = flat[pick] + 0.01 * torch.randn_like(flat[pick]) * flat.std().clamp_min(1e-6)
            self.restarts += len(dead)

    @torch.no_grad()
    def codebook_usage(self) -> dict[str, float]:
        """{"used": share of codes with EMA count >= threshold, "perplexity": exp(entropy of the
        usage distribution) (= codes when usage is uniform), "restarts": dead codes restarted so far}."""
        total = self.ema_count.sum()
        p = self.ema_count / total if total > 0 else torch.full_like(self.ema_count, 1 / self.cfg.codes)
        entropy = -(p * p.clamp_min(1e-12).log()).sum()
        return {"used": float((self.ema_count >= self.cfg.threshold).float().mean()),
                "perplexity": float(entropy.exp()), "restarts": int(self.restarts)}
